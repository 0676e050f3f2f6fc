"""Every GPU and SoC in the catalog carries what `llmbox cost` and `hw-estimate --target` need:
board power (W) and launch price (USD), each traced to a registered source, or a note that says
why the figure is missing. `llmbox chips` shows both, in the table and in JSON."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.config import configs_dir
from llmbox.hw.chips import Chip, load_catalog

runner = CliRunner()
CATALOG = load_catalog()
ACCELERATORS = [c for c in CATALOG.chips.values() if c.kind in ("dgpu", "soc")]
# A note that explains a missing figure names it: "price" for the price, "power"/"TGP"/"W" for power.
_SAYS_PRICE = re.compile(r"price", re.IGNORECASE)
_SAYS_POWER = re.compile(r"power|TGP|TDP", re.IGNORECASE)


def _yaml_block(chip_id: str) -> str:
    text = (configs_dir() / "chips.yaml").read_text()
    start = text.index(f"  - id: {chip_id}\n")
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize("chip", ACCELERATORS, ids=lambda c: c.id)
def test_every_gpu_and_soc_has_power_and_price_or_says_why_not(chip: Chip) -> None:
    note = chip.note or ""
    if chip.board_power_w is None:
        assert _SAYS_POWER.search(note), f"{chip.id}: no board_power_w and no note saying why"
    if chip.launch_price_usd is None:
        assert _SAYS_PRICE.search(note), f"{chip.id}: no launch_price_usd and no note saying why"


@pytest.mark.parametrize("chip", ACCELERATORS, ids=lambda c: c.id)
def test_power_and_price_are_plausible_and_traced(chip: Chip) -> None:
    if chip.board_power_w is not None:
        assert 5 <= chip.board_power_w <= 1500, chip.id
    if chip.launch_price_usd is not None:
        assert 99 <= chip.launch_price_usd <= 20000, chip.id
    for key in chip.source:
        assert key in CATALOG.sources, f"{chip.id}: source {key!r} is not in `sources:`"
    block = _yaml_block(chip.id)
    for field in ("board_power_w", "launch_price_usd"):
        line = next((ln for ln in block.splitlines() if ln.strip().startswith(field)), None)
        if line is not None:
            assert "#" in line, f"{chip.id}: {field} has no source comment"


def test_coverage_does_not_shrink() -> None:
    powered = sum(c.board_power_w is not None for c in ACCELERATORS)
    priced = sum(c.launch_price_usd is not None for c in ACCELERATORS)
    assert powered >= 95, powered
    assert priced >= 81, priced


@pytest.mark.parametrize(
    ("chip_id", "power", "price"),
    [
        ("m1-7c", None, 999),  # MacBook Air (M1) base: 7-core GPU
        ("m1-8c", 39, 699),  # Mac mini (M1)
        ("m2-8c", None, 1199),  # MacBook Air (M2) base: 8-core GPU (the $599 Mac mini has 10)
        ("m4-8c", None, 999),  # MacBook Air (M4) base
        ("m5-10c", None, 1599),  # 14-inch MacBook Pro (M5)
        ("gtx1080ti", 250, 699),
        ("titan-v", 250, 2999),
        ("quadro-rtx8000", 260, 10000),
        ("jetson-orin-nano-super", 25, 249),  # MAXN Super power mode, Developer Kit
        ("dgx-spark", 140, 3999),
        ("ryzen-ai-max-395", 55, 1999),  # a system's price: Framework Desktop 128 GB
    ],
)
def test_filled_figures_are_the_sourced_ones(chip_id: str, power: int | None, price: int) -> None:
    chip = CATALOG.chips[chip_id]
    if power is not None:
        assert chip.board_power_w == power
    assert chip.launch_price_usd == price


def test_bins_sold_only_as_upgrades_say_why_they_have_no_price() -> None:
    for chip_id in ("m1ultra-64c", "m2ultra-76c", "m3ultra-80c"):
        chip = CATALOG.chips[chip_id]
        assert chip.launch_price_usd is None
        assert "build-to-order" in (chip.note or ""), chip_id


def test_chips_table_and_json_show_power_and_price() -> None:
    table = runner.invoke(app, ["chips", "--vendor", "amd"])
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert " W " in header
    assert "USD" in header
    xtx = next(r for r in rows if r.strip().startswith("rx7900xtx "))
    assert " 355 " in xtx
    assert " 999 " in xtx
    mi300x = next(r for r in rows if r.strip().startswith("mi300x "))
    assert " - " in mi300x  # no list price: shown as "-", not 0
    data = {c["id"]: c for c in json.loads(runner.invoke(app, ["chips", "-f", "json"]).stdout)}
    assert data["rtx3090"]["board_power_w"] == 350
    assert data["rtx3090"]["launch_price_usd"] == 1499
    assert data["h100-sxm"]["launch_price_usd"] is None
    assert "list price" in data["h100-sxm"]["note"]
    assert "tpu" in data["rtx3090"]["sources"]


def test_target_lists_chips_cheapest_first_with_prices() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--model", "llama3.1:8b", "--target", "decode_tps=30", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    prices = [r["chip"]["launch_price_usd"] for r in rows if r["chip"]["launch_price_usd"]]
    assert len(prices) >= 20
    assert prices == sorted(prices)
    first_unpriced = next(i for i, r in enumerate(rows) if not r["chip"]["launch_price_usd"])
    assert all(not r["chip"]["launch_price_usd"] for r in rows[first_unpriced:])
