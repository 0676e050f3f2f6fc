"""The field case of issue 13 and the memory plan behind it: GiB, Metal's working-set limit,
image buffers, KV cache types, context x parallel, the layer split `ollama ps` shows."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.hw.chips import Catalog
from llmbox.hw.estimate import GIB, Workload, estimate, image_buffer_bytes
from llmbox.hw.models import ModelCatalog

runner = CliRunner()
#: MacBook Air M2 (8-core GPU), Ollama, llama3.2-vision:11b with one image: 18 prompt tokens,
#: 78 generated in 8.896 s; `ollama ps` 7%/93% CPU/GPU.
FIELD = Workload(prompt_tokens=18, gen_tokens=78, images=1, memory_gb=16)
FIELD_DECODE = 78 / 8.896


def test_field_case_16gb_is_a_partial_offload_at_the_measured_speed(
    catalog: Catalog, models: ModelCatalog
) -> None:
    est = estimate(catalog.resolve("m2-8c"), catalog, models.resolve("llama3.2-vision:11b"), FIELD)
    assert est.runner == "ollama"
    assert est.memory.verdict == "partial"
    assert 3 <= est.memory.cpu_percent <= 12
    assert est.memory.processor.endswith("CPU/GPU")


def test_field_case_16gb_decode_within_15_percent(catalog: Catalog, models: ModelCatalog) -> None:
    est = estimate(catalog.resolve("m2-8c"), catalog, models.resolve("llama3.2-vision:11b"), FIELD)
    assert est.decode_tps == pytest.approx(FIELD_DECODE, rel=0.15)


def test_field_case_24gb_fits(catalog: Catalog, models: ModelCatalog) -> None:
    w = Workload(prompt_tokens=18, gen_tokens=78, images=1, memory_gb=24)
    est = estimate(catalog.resolve("m2-8c"), catalog, models.resolve("llama3.2-vision:11b"), w)
    assert est.memory.verdict == "fits"
    assert est.memory.processor == "100% GPU"
    auto = estimate(
        catalog.resolve("m2-8c"),
        catalog,
        models.resolve("llama3.2-vision:11b"),
        Workload(prompt_tokens=18, gen_tokens=78, images=1),
    )
    assert auto.memory.memory_gb == 24  # the smallest M2 that holds it


def test_field_case_on_the_command_line() -> None:
    argv = ["hw-estimate", "-c", "m2-8c", "-m", "llama3.2-vision:11b", "--images", "1"]
    argv += ["--prompt-tokens", "18", "--gen-tokens", "78", "--memory", "16"]
    text = runner.invoke(app, argv)
    assert text.exit_code == 0, text.output
    assert "ollama ps" in text.stdout
    assert "CPU/GPU" in text.stdout
    assert "GiB" in text.stdout
    data = json.loads(runner.invoke(app, [*argv, "-f", "json"]).stdout)
    assert data["memory"]["processor"].endswith("CPU/GPU")
    assert data["memory"]["layers"] == 41  # 40 blocks + the output layer, as Ollama counts


def test_metal_working_set_by_memory_size(catalog: Catalog) -> None:
    m2 = catalog.resolve("m2-8c")
    assert catalog.gpu_share(m2, 16) == pytest.approx(2 / 3, abs=1e-3)  # 10922.67 MiB logged
    assert catalog.gpu_share(m2, 36) == 0.75  # 28991.03 MB logged on 36 GB
    assert catalog.gpu_share(m2, 64) == 0.75  # 49152 MiB
    assert catalog.gpu_share(m2, 128) == 0.84  # 107.52 GiB


def test_memory_is_counted_in_gib(catalog: Catalog, models: ModelCatalog) -> None:
    est = estimate(catalog.resolve("m2-8c"), catalog, models.resolve("llama3.1:8b"), FIELD)
    assert est.memory.gpu_budget_bytes == pytest.approx(16 * GIB * 2 / 3, rel=1e-3)


def test_mllama_image_buffers_match_ollamas_log(models: ModelCatalog) -> None:
    # ollama/ollama#7664 logs projector.graph="2.8 GiB" for llama3.2-vision.
    assert image_buffer_bytes(models.resolve("llama3.2-vision:11b")) / GIB == pytest.approx(
        2.79, abs=0.05
    )


def test_kv_cache_types_and_parallel(catalog: Catalog, models: ModelCatalog) -> None:
    chip, m = catalog.resolve("rtx4090"), models.resolve("llama3.1:8b")

    def kv(**kw: object) -> float:
        return estimate(chip, catalog, m, Workload(context=32768, **kw)).memory.kv_bytes  # type: ignore[arg-type]

    f16 = kv()
    assert f16 / GIB == pytest.approx(4.0, rel=0.01)  # 32 layers x 8 heads x 128 x 2 x 2 B x 32k
    assert kv(kv_cache="q8_0", flash_attention=True) == pytest.approx(f16 * 34 / 64)
    assert kv(kv_cache="q4_0", flash_attention=True) == pytest.approx(f16 * 18 / 64)
    assert kv(kv_cache="q8_0") == f16  # without flash attention Ollama keeps f16
    assert kv(parallel=4) == pytest.approx(4 * f16)


def test_sliding_window_caps_gemma3_kv(catalog: Catalog, models: ModelCatalog) -> None:
    est = estimate(
        catalog.resolve("h100"), catalog, models.resolve("gemma3:27b"), Workload(context=131072)
    )
    assert est.memory.kv_bytes / GIB < 16  # ~12 GB real, not the 66.6 GB of a full cache


def test_gpt_oss_reads_its_bf16_attention_and_mxfp4_experts(models: ModelCatalog) -> None:
    m = models.resolve("gpt-oss:20b")
    assert m.weight_bytes / 1e9 == pytest.approx(13.7, rel=0.05)  # Ollama lists 14 GB
    assert m.active_weight_bytes > 1.5 * m.active * 4.25 / 8  # not just MXFP4 for all


def test_gpus_pool_memory_but_layer_split_does_not_speed_decode(
    catalog: Catalog, models: ModelCatalog
) -> None:
    chip, m = catalog.resolve("rtx4090"), models.resolve("llama3.3:70b")
    one = estimate(chip, catalog, m, Workload())
    two = estimate(chip, catalog, m, Workload(gpus=2))
    assert one.memory.verdict == "partial"
    assert two.memory.verdict == "fits"
    assert sum(two.memory.split) == 80
    ref = estimate(catalog.resolve("rtx5090"), catalog, models.resolve("qwen2.5:32b"), Workload())
    same = estimate(
        catalog.resolve("rtx5090"), catalog, models.resolve("qwen2.5:32b"), Workload(gpus=2)
    )
    assert same.decode_tps <= ref.decode_tps
    tensor = estimate(
        catalog.resolve("rtx5090"),
        catalog,
        models.resolve("qwen2.5:32b"),
        Workload(gpus=2, runner="vllm"),
    )
    assert tensor.decode_tps > 1.3 * ref.decode_tps


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c", "m4pro", "--runner", "vllm"], "--runner vllm does not run on Apple M4 Pro"),
        (["-c", "4090", "--runner", "mlx"], "--runner mlx does not run on"),
        (["-c", "4090", "--runner", "tgi"], "unknown runner 'tgi'"),
        (["-c", "4090", "--kv-cache", "q2"], "unknown KV cache type 'q2'"),
        (["-c", "4090", "--gpus", "0"], "--gpus must be 1 to 16"),
        (["-c", "4090", "--parallel", "0"], "--parallel must be 1 to 256"),
        (["-c", "4090", "--ram", "nan"], "--ram nan: expected a size in GB"),
        (["-c", "m4pro", "--gpus", "2"], "--gpus 2: Apple M4 Pro (20-core GPU) is not a discrete"),
    ],
)
def test_runtime_options_are_checked(argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["hw-estimate", "-m", "llama3.1:8b", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_flash_attention_follows_the_runner(catalog: Catalog, models: ModelCatalog) -> None:
    m2 = catalog.resolve("m2-8c")

    def fa(model: str, runner: str = "ollama", **kw: object) -> tuple[bool, str]:
        w = Workload(runner=runner, **kw)  # type: ignore[arg-type]
        est = estimate(m2, catalog, models.resolve(model), w)
        return bool(est.workload.flash_attention), est.memory.kv_cache

    # mllama runs on Ollama's own engine, which leaves flash attention off for it.
    assert fa("llama3.2-vision:11b") == (False, "f16")
    # llama.cpp-served models get --flash-attn auto, but a quantized cache only when asked for.
    assert fa("llama3.1:8b", kv_cache="q8_0") == (True, "f16")
    assert fa("llama3.1:8b", kv_cache="q8_0", flash_attention=True) == (True, "q8_0")
    # Models on the engine's flash-attention list take the quantized cache as they are.
    assert fa("gemma3:12b", kv_cache="q4_0") == (True, "q4_0")
    assert fa("llama3.1:8b", runner="llama.cpp") == (False, "f16")  # llama-bench: -fa 0
    assert fa("llama3.1:8b", flash_attention=False) == (False, "f16")


def test_unfused_attention_pays_the_kv_cost_only_without_flash_attention(
    catalog: Catalog, models: ModelCatalog
) -> None:
    chip, m = catalog.resolve("m4pro"), models.resolve("llama3.1:8b")
    fam = catalog.family(chip)
    assert fam.decode_kv_cost > fam.decode_kv_cost_fa

    def tps(depth: int, flash: bool) -> float:
        w = Workload(prompt_tokens=0, gen_tokens=128, depth=depth, flash_attention=flash)
        return estimate(chip, catalog, m, replace(w, runner="llama.cpp")).decode_tps

    assert tps(0, True) == pytest.approx(tps(0, False), rel=0.01)  # no cache, no difference
    assert tps(8192, True) > 1.2 * tps(8192, False)  # the unfused kernels re-read K and V
    assert tps(8192, True) < tps(0, True)  # the fused kernel still reads the cache


def test_flash_attention_flags_on_the_command_line() -> None:
    argv = ["hw-estimate", "-c", "m4pro", "-m", "llama3.1:8b", "-f", "json"]
    default = json.loads(runner.invoke(app, argv).stdout)
    off = json.loads(runner.invoke(app, [*argv, "--no-flash-attention"]).stdout)
    assert default["workload"]["flash_attention"] is True
    assert off["workload"]["flash_attention"] is False
    vision = ["hw-estimate", "-c", "m4pro", "-m", "llama3.2-vision:11b", "-f", "json"]
    assert json.loads(runner.invoke(app, vision).stdout)["workload"]["flash_attention"] is False
