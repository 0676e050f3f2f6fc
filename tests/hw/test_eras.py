"""llama.cpp build eras: an estimate for an older build is slower, by the fitted factors."""

from __future__ import annotations

from dataclasses import replace

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


def test_2023_datacenter_prefill_stays_compute_bound_and_tracks_sms() -> None:
    """2023's CUDA prefill on the HPC dies (FP16 cuBLAS): F16 weights prefill about as fast as
    Q4_0 on an A100 (as measured: 5106 vs 3444 tokens/s), not stream-bound at half of it; and
    the H100 PCIe, with twice the FP32 lanes per SM, is not predicted twice as fast per FP32
    TFLOPS: measured 4869-4967 vs 3444-3957 tokens/s (1.3x), as its SMs x clock say."""
    catalog, models = load_catalog(), load_models()
    a100, h100 = catalog.resolve("a100-80gb"), catalog.resolve("h100-pcie")
    work = Workload(runner="llama.cpp", prompt_tokens=512, gen_tokens=128, era="2023")
    q4_model = with_quant(models.resolve("llama2:7b"), "Q4_0")
    f16 = estimate(a100, catalog, models.resolve("llama2:7b"), work)
    q4 = estimate(a100, catalog, q4_model, work)
    assert f16.prefill_tps > 0.9 * q4.prefill_tps
    assert 2500 < q4.prefill_tps < 6000
    ratio = estimate(h100, catalog, q4_model, work).prefill_tps / q4.prefill_tps
    assert 1.0 < ratio < 1.7


def test_2023_cuda_prefill_pays_a_cost_per_layer() -> None:
    """Dec 2023 CUDA builds synchronised per op: big models got relatively faster (A100: 70B
    at 612 tokens/s against 7B at 3444-3957, 0.15-0.18x where the parameters say 0.097x)."""
    catalog, models = load_catalog(), load_models()
    assert catalog.eras["2023"].layer_ms("nvidia-geforce") > 0.3
    assert catalog.eras["2023"].layer_ms("apple-metal") == 0
    chip = catalog.resolve("a100-80gb")
    work = Workload(runner="llama.cpp", prompt_tokens=512, gen_tokens=128, era="2023")
    small, big = (
        estimate(chip, catalog, with_quant(models.resolve(m), "Q4_0"), work).prefill_tps
        for m in ("llama2:7b", "llama2:70b")
    )
    assert 0.11 < big / small < 0.25  # without the cost: the parameter ratio, 0.097
    q4_7b = with_quant(models.resolve("llama2:7b"), "Q4_0")
    now = estimate(chip, catalog, q4_7b, replace(work, era=CURRENT_ERA))
    assert now.prefill_tps > small  # the current build has neither the cost nor the old kernels
