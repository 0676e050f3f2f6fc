"""Reverse questions: `--target decode_tps=20` with a chip (which models?) or a model (which chips?)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog
from llmbox.hw.estimate import Workload, estimate
from llmbox.hw.models import ModelCatalog
from llmbox.hw.target import chips_meeting, models_meeting, parse_target

runner = CliRunner()


def _json(argv: list[str]) -> list[dict[str, object]]:
    result = runner.invoke(app, ["hw-estimate", *argv, "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_models_on_a_chip_fit_meet_the_target_largest_first(
    catalog: Catalog, models: ModelCatalog
) -> None:
    chip = catalog.resolve("m4pro")
    targets = [parse_target("decode_tps=20")]
    rows = models_meeting(chip, catalog, models, Workload(), targets)
    assert rows
    assert all(r.decode_tps >= 20 and r.memory.verdict == "fits" for r in rows)
    sizes = [r.model.params for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    quants = {(r.model.name, r.model.quant) for r in rows}
    assert ("llama3.1:8b", "Q8_0") in quants  # quantizations beyond the tag's own
    assert not any(r.model.name == "llama3.3:70b" for r in rows)  # ~10 tokens/s on 273 GB/s
    # Nothing the catalog offers that is missing: every variant that meets it is listed.
    slow = estimate(chip, catalog, models.resolve("llama3.3:70b"), Workload(memory_gb=64))
    assert slow.decode_tps < 20


def test_chips_for_a_model_cheapest_first_then_unpriced_by_bandwidth(
    catalog: Catalog, models: ModelCatalog
) -> None:
    rows = chips_meeting(
        models.resolve("llama3.1:8b"), catalog, Workload(), [parse_target("decode_tps=60")]
    )
    assert all(r.decode_tps >= 60 for r in rows)
    prices = [r.chip.launch_price_usd for r in rows]
    priced = [p for p in prices if p is not None]
    assert priced
    assert priced == sorted(priced)
    first_unpriced = prices.index(None)
    assert all(p is None for p in prices[first_unpriced:])  # priced ones come first
    bws = [r.chip.bw_gbs for r in rows[first_unpriced:]]
    assert bws == sorted(bws)


def test_target_combines_with_memory_runner_and_context() -> None:
    base = ["-m", "llama3.1:8b", "--target", "decode_tps=20"]
    sixteen = _json([*base, "--memory", "16"])
    assert sixteen
    assert all(r["memory"]["machine_gb"] == 16 for r in sixteen)
    mlx = _json([*base, "--runner", "mlx"])
    assert mlx
    assert all(r["chip"]["family"] == "apple-metal" for r in mlx)
    long = _json(["-c", "m4pro", "--target", "decode_tps=20", "--context", "65536"])
    short = _json(["-c", "m4pro", "--target", "decode_tps=20"])
    assert len(long) < len(short)  # a 64k cache costs memory and speed
    assert all(r["workload"]["context"] == 65536 for r in long)  # type: ignore[index]


def test_several_targets_must_all_be_met() -> None:
    rows = _json(["-c", "rtx4090", "--target", "decode_tps=50", "--target", "ttft_s=0.2"])
    assert rows
    assert all(r["decode_tps"] >= 50 and r["ttft_s"] <= 0.2 for r in rows)  # type: ignore[operator]


def test_target_table_says_how_unpriced_chips_are_ordered() -> None:
    result = runner.invoke(app, ["hw-estimate", "-m", "llama3.3:70b", "--target", "decode_tps=20"])
    assert result.exit_code == 0, result.output
    assert "cheapest first" in result.stdout
    assert "no launch price in the catalog" in result.stdout


def test_nothing_meets_an_impossible_target() -> None:
    result = runner.invoke(app, ["hw-estimate", "-c", "m1-7c", "--target", "decode_tps=5000"])
    assert result.exit_code == 0, result.output
    assert "nothing meets decode_tps >= 5000" in result.stdout
    assert _json(["-c", "m1-7c", "--target", "decode_tps=5000"]) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c", "m4pro", "--target", "decode_tps"], "expected METRIC=VALUE"),
        (["-c", "m4pro", "--target", "speed=20"], "expected METRIC=VALUE"),
        (["-c", "m4pro", "--target", "decode_tps=-3"], "expected a positive number"),
        (["-c", "m4pro", "--target", "decode_tps=nan"], "expected a positive number"),
        (["-c", "m4pro", "-m", "llama3.1:8b", "--target", "decode_tps=20"], "one question"),
        (["-c", "m4pro", "-c", "m4max", "--target", "decode_tps=20"], "one question"),
        (["--target", "decode_tps=20"], "one question"),
        (["-m", "nosuchmodel", "--target", "decode_tps=20"], "not in the catalog"),
    ],
)
def test_bad_targets_are_usage_errors(argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["hw-estimate", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_parse_target_forms() -> None:
    assert parse_target("decode_tps>=20").value == 20
    assert str(parse_target("ttft_s<=1.5")) == "ttft_s <= 1.5"
    with pytest.raises(UsageError):
        parse_target("=20")
