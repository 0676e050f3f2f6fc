"""llama.cpp build eras: an estimate for an older build is slower, by the fitted factors."""

from __future__ import annotations

import pytest

from llmbox.errors import UsageError
from llmbox.hw.chips import CURRENT_ERA, load_catalog
from llmbox.hw.estimate import Workload, estimate
from llmbox.hw.models import load_models, with_quant


def test_old_cuda_build_prefills_much_slower_than_the_current_one() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("rtx 4090"), models.resolve("llama3.1:8b")
    now = estimate(chip, catalog, model, Workload(runner="llama.cpp"))
    old = estimate(chip, catalog, model, Workload(runner="llama.cpp", era="2023"))
    assert old.prefill_tps < 0.7 * now.prefill_tps
    assert old.decode_tps < now.decode_tps
    assert any("2023" in n for n in old.notes)
    assert Workload().era == CURRENT_ERA


def test_apple_eras_barely_move_prefill() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("m2max-38c"), models.resolve("llama3.1:8b")
    now = estimate(chip, catalog, model, Workload(runner="llama.cpp"))
    old = estimate(chip, catalog, model, Workload(runner="llama.cpp", era="2023"))
    assert old.prefill_tps == pytest.approx(now.prefill_tps, rel=0.1)


def test_unknown_era_is_a_usage_error_naming_the_known_ones() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("rtx 4090"), models.resolve("llama3.1:8b")
    with pytest.raises(UsageError, match="2019") as err:
        estimate(chip, catalog, model, Workload(era="2019"))
    assert "2023" in (err.value.hint or "")


def test_2023_datacenter_prefill_runs_on_the_tensor_figure_and_stays_compute_bound() -> None:
    """2023's CUDA prefill was FP16 cuBLAS on the tensor cores: on an A100 the era is predicted
    on its FP16 tensor figure, and F16 weights prefill about as fast as Q4_0 (as measured:
    5106 vs 3444 tokens/s), not stream-bound at half of it."""
    catalog, models = load_catalog(), load_models()
    assert catalog.eras["2023"].compute.get("nvidia-datacenter") == "fp16"
    chip = catalog.resolve("a100-80gb")
    work = Workload(runner="llama.cpp", prompt_tokens=512, gen_tokens=128, era="2023")
    f16 = estimate(chip, catalog, models.resolve("llama2:7b"), work)
    q4 = estimate(chip, catalog, with_quant(models.resolve("llama2:7b"), "Q4_0"), work)
    assert f16.prefill_tps > 0.9 * q4.prefill_tps
    assert 2500 < q4.prefill_tps < 6000
