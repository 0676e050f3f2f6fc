"""Prefill limited by board power: a big die at a modest board power (the 300 W RTX 6000 Ada, an
AD102 like the 450 W RTX 4090) processes prompts at its architecture's work per watt, not at
what its TFLOPS promise."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from llmbox.errors import ConfigError
from llmbox.hw import fit as F
from llmbox.hw.chips import Architecture, Catalog, load_catalog
from llmbox.hw.estimate import Workload, estimate, power_cap_tflops
from llmbox.hw.models import ModelCatalog, with_quant

BENCH = Workload(runner="llama.cpp", prompt_tokens=512, gen_tokens=128)


def _pp(catalog: Catalog, models: ModelCatalog, chip: str) -> float:
    model = with_quant(models.resolve("llama2:7b"), "Q4_0")
    return estimate(catalog.resolve(chip), catalog, model, BENCH).prefill_tps


def test_a_300_w_ad102_is_power_limited(catalog: Catalog, models: ModelCatalog) -> None:
    """Scoreboard #15013, 7B Q4_0 pp512: RTX 6000 Ada 9229-10577, RTX 4090 14771; the 6000 Ada
    has 10 % more FP32 TFLOPS than the 4090 but two thirds of its board power."""
    ada6000, rtx4090 = _pp(catalog, models, "rtx6000ada"), _pp(catalog, models, "rtx4090")
    assert 0.55 < ada6000 / rtx4090 < 0.8
    assert 8000 < ada6000 < 12000
    chip = catalog.resolve("rtx6000ada")
    cap = power_cap_tflops(chip, catalog)
    per_w = catalog.architectures["ada"].prefill_tflops_per_w
    assert cap is not None
    assert per_w is not None
    assert cap == pytest.approx(300 * per_w)


def test_no_cap_without_board_power_or_architecture(catalog: Catalog, models: ModelCatalog) -> None:
    chip = catalog.resolve("rtx6000ada")
    assert power_cap_tflops(replace(chip, board_power_w=None), catalog) is None
    assert power_cap_tflops(catalog.resolve("m4pro"), catalog) is None
    bare = replace(catalog, architectures={})
    assert _pp(bare, models, "rtx6000ada") > _pp(catalog, models, "rtx6000ada") * 1.2


def test_fit_finds_a_cap_that_binds_and_none_where_nothing_is_capped(
    catalog: Catalog, models: ModelCatalog
) -> None:
    """Rows made by the estimator with a known cap give that cap back; an architecture whose
    chips all run at their TFLOPS rate gets none."""
    truth = replace(
        catalog,
        architectures={
            **catalog.architectures,
            "ada": replace(catalog.architectures["ada"], prefill_tflops_per_w=0.45),
            "ampere": replace(catalog.architectures["ampere"], prefill_tflops_per_w=None),
        },
    )
    model = with_quant(models.resolve("llama2:7b"), "Q4_0")
    rows = []
    for chip_id in ("rtx4090", "rtx4080", "rtx6000ada", "l40", "rtx3090", "rtx-a6000"):
        chip = truth.resolve(chip_id)
        est = estimate(chip, truth, model, BENCH)
        rows.append(
            F.Observation(chip=chip, model=model, pp=512, tg=0, prefill_tps=est.prefill_tps)
        )
    fitted = F.fit_power_caps(rows, truth)
    assert fitted["ada"].prefill_tflops_per_w == pytest.approx(0.45, rel=1e-3)
    assert fitted["ampere"].prefill_tflops_per_w is None
    assert fitted["hopper"].fitted_on == "no measurements"


def test_fit_layer_cost_recovers_a_shared_overhead() -> None:
    rows = []
    for chip, k in (("a", 1.3), ("b", 0.7), ("c", 1.0)):
        for x, y in ((0.05, 32), (0.1, 40), (0.5, 80)):
            rows.append((chip, x, float(y), k * x + y * 0.0015))
    assert F.fit_layer_cost(rows) == pytest.approx(1.5, abs=1e-3)
    assert F.fit_layer_cost([("a", 0.1, 32.0, 0.2)]) == 0.0  # one chip: nothing to separate
    assert not math.isnan(F.fit_layer_cost(rows))


def _catalog_with(tmp_path: Path, block: str) -> Path:
    text = (Path(load_catalog().path)).read_text()
    start = text.index("\narchitectures:\n")
    end = text.index("\nbands:")
    path = tmp_path / "chips.yaml"
    path.write_text(text[:start] + "\narchitectures:\n" + block + text[end:])
    return path


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("  ada:\n    chips: [rtx4090, rtx9999]\n", "unknown chip 'rtx9999'"),
        ("  ada:\n    chips: [rtx4090]\n  x:\n    chips: [rtx4090]\n", "already in architecture"),
        ("  ada:\n    chips: [rtx4090]\n    prefill_tflops_per_w: -1\n", "prefill_tflops_per_w"),
    ],
)
def test_a_bad_architectures_section_names_the_problem(
    tmp_path: Path, block: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_catalog(_catalog_with(tmp_path, block))


def test_the_sm_figure_counts_sms_not_lanes(catalog: Catalog) -> None:
    """GH100 has 128 FP32 lanes per SM, GA100 64: per SM x clock the H100 SXM is 1.7x the
    A100 (132 SMs at 1.98 GHz against 108 at 1.41), not the 3.4x of their FP32 figures."""
    a100, h100 = catalog.resolve("a100-80gb"), catalog.resolve("h100-sxm")
    ratio = (h100.compute_tflops("sm") or 0) / (a100.compute_tflops("sm") or 1)
    assert 1.6 < ratio < 1.8
    assert isinstance(catalog.architecture(h100), Architecture)
    assert catalog.resolve("rtx4090").compute_tflops("sm") == catalog.resolve("rtx4090").fp32_tflops
