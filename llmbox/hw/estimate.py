"""The estimator: speed and memory fit of one model on one chip, from first principles plus a few
efficiency factors per chip family and runner (see docs/hw-estimate.md for the model).

Pure functions on plain data; nothing here reads files, the network or the clock.

* **Memory** is planned the way Ollama's scheduler plans it, in GiB: the GPU may use Metal's
  working-set limit (Apple) or the free VRAM (discrete GPUs); the vision encoder and its image
  buffers go to the first GPU, then repeating layers (weights + their KV cache) while they fit
  beside the compute graph, then the output layer; what is left runs on the CPU.
* **Decode** is bound by memory bandwidth: each token reads the active weights and the KV cache
  once, each side of a CPU/GPU split at its own bandwidth, plus a fixed cost per layer.
* **Prefill** is bound by compute: ``2 x active params`` FLOP per token plus attention, at
  ``min(TFLOPS x prefill_eff, board W x the architecture's work per watt) x quant factor``;
  never faster than one pass over the weights.
* **Runner**: llama-bench is the reference the family factors are fitted on; Ollama, MLX and
  vLLM reach a share of it per family (``runners:`` in configs/chips.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from llmbox.errors import UsageError
from llmbox.hw.chips import CURRENT_ERA, Catalog, Chip, Era, Family, Runner
from llmbox.hw.models import ModelSpec
from llmbox.hw.quant import lookup

#: Bandwidths are in GB/s (10^9 bytes); memory sizes are GiB, as machines and runners count them.
GB = 1e9
GIB = float(2**30)
MIB = float(2**20)
#: Context (tokens) a runner allocates by default: Ollama's default ``num_ctx``.
DEFAULT_CONTEXT = 4096
DEFAULT_PROMPT_TOKENS = 512
DEFAULT_GEN_TOKENS = 128
RUNNERS = ("ollama", "llama.cpp", "llama.cpp-vulkan", "mlx", "vllm")
DEFAULT_RUNNER = "ollama"
#: Bytes per cached K or V element: f16, and the block formats Ollama's OLLAMA_KV_CACHE_TYPE takes.
KV_CACHE_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
#: What the GPU backend keeps free (Ollama: 512 MiB on Metal, 457 MiB on CUDA and ROCm).
GPU_MINIMUM = {"apple": 512 * MIB, "other": 457 * MIB}
#: Free VRAM is less than the card's: the driver, the display and the CUDA context (a prior).
DGPU_RESERVE = 0.5 * GIB
#: Prompt tokens processed per step (Ollama's and llama.cpp's default ``num_batch``).
BATCH = 512
#: Memory the operating system keeps for itself on a machine whose RAM holds the model.
OS_RESERVE_SHARE = 0.1
#: The largest --memory accepted (GB): a petabyte is a typo, not a machine.
MAX_MEMORY_GB = 1e5
MAX_GPUS = 16
#: Share of linear scaling a tensor-parallel split keeps (a prior: all-reduce per layer).
TENSOR_SCALING = 0.85


@dataclass(frozen=True)
class Workload:
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    #: KV cache size per request (``num_ctx``); None = min(DEFAULT_CONTEXT, model maximum), at
    #: least prompt + generated tokens.
    context: int | None = None
    images: int = 0
    #: Memory of the machine (GB as sold, i.e. GiB); for a discrete GPU its VRAM. None = the
    #: smallest size offered where the model fits.
    memory_gb: float | None = None
    runner: str = DEFAULT_RUNNER
    #: KV cache element type (OLLAMA_KV_CACHE_TYPE): f16, q8_0, q4_0.
    kv_cache: str = "f16"
    #: Flash attention (OLLAMA_FLASH_ATTENTION, llama-bench ``-fa``); None = the runner's
    #: default for this model (:func:`flash_attention_default`).
    flash_attention: bool | None = None
    #: Requests served at once (OLLAMA_NUM_PARALLEL): the runner allocates context x parallel.
    parallel: int = 1
    gpus: int = 1
    #: System RAM (GB) beside a discrete GPU, for what spills; None = not checked.
    ram_gb: float | None = None
    #: Tokens already in the KV cache before the prompt (a conversation's history; llama-bench's
    #: ``-d``): the prompt attends to them and the answer reads them.
    depth: int = 0
    #: The llama.cpp build era the runner is built on (``llama_cpp_eras`` in configs/chips.yaml;
    #: an older era's kernels are slower, CUDA prefill above all).
    era: str = CURRENT_ERA

    def validate(self) -> None:
        examples = {"prompt_tokens": 512, "gen_tokens": 128, "images": 1, "depth": 4096}
        for name, example in examples.items():
            if getattr(self, name) < 0:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must not be negative", hint=f"e.g. {flag} {example}")
        if self.context is not None and self.context <= 0:
            raise UsageError("--context must be positive", hint="e.g. --context 4096")
        for flag, value in (("--memory", self.memory_gb), ("--ram", self.ram_gb)):
            if value is not None and not 0 < value <= MAX_MEMORY_GB:
                raise UsageError(
                    f"{flag} {value:g}: expected a size in GB, above 0 and at most "
                    f"{MAX_MEMORY_GB:g}",
                    hint=f"e.g. {flag} 24",
                )
        if self.runner not in RUNNERS:
            raise UsageError(f"unknown runner {self.runner!r}", hint="one of " + ", ".join(RUNNERS))
        if self.kv_cache not in KV_CACHE_BYTES:
            raise UsageError(
                f"unknown KV cache type {self.kv_cache!r}", hint="one of f16, q8_0, q4_0"
            )
        if not 1 <= self.parallel <= 256:
            raise UsageError("--parallel must be 1 to 256", hint="e.g. --parallel 4")
        if not 1 <= self.gpus <= MAX_GPUS:
            raise UsageError(f"--gpus must be 1 to {MAX_GPUS}", hint="e.g. --gpus 2")

    def check_context(self, model: ModelSpec) -> list[str]:
        """Reject a context the runner could not allocate; notes for one it would shift."""
        context = context_for(model, self)
        if self.context is not None and self.context > model.context_length:
            raise UsageError(
                f"--context {self.context} is beyond {model.name}'s maximum of "
                f"{model.context_length} tokens",
                hint=f"use --context {model.context_length} or less",
            )
        if self.prompt_tokens > context:
            if self.context is None:
                raise UsageError(
                    f"--prompt-tokens {self.prompt_tokens} is beyond {model.name}'s maximum "
                    f"context of {model.context_length} tokens",
                    hint=f"use --prompt-tokens {model.context_length} or less",
                )
            raise UsageError(
                f"--context {context} is smaller than the prompt ({self.prompt_tokens} tokens)",
                hint=f"raise --context to at least {self.prompt_tokens + self.gen_tokens}, "
                "or lower --prompt-tokens",
            )
        if self.prompt_tokens + self.gen_tokens > context:
            return [
                f"prompt + answer ({self.prompt_tokens + self.gen_tokens} tokens) overrun the "
                f"{context}-token context: the runner drops old tokens (context shift) "
                "mid-answer"
            ]
        return []


@dataclass(frozen=True)
class Memory:
    """Where the model goes. Byte figures; ``*_gib`` helpers for display."""

    weights_bytes: float
    vision_bytes: float
    kv_bytes: float
    #: Compute graph, image buffers and the backend's minimum.
    overhead_bytes: float
    memory_gb: float
    #: What the GPU(s) may use, in all.
    gpu_budget_bytes: float
    #: Share of the bytes read per generated token that the GPU reads (1.0 = all, 0.0 on a CPU).
    gpu_fraction: float
    verdict: str  # fits | partial | cpu | does-not-fit
    context: int
    layers: int = 0
    layers_on_gpu: int = 0
    output_on_gpu: bool = True
    #: Layers per GPU (``--gpus``), as Ollama's log prints ``layers.split``.
    split: tuple[int, ...] = ()
    vram_bytes: float = 0.0
    cpu_bytes: float = 0.0
    kv_cache: str = "f16"
    parallel: int = 1

    @property
    def total_bytes(self) -> float:
        return self.vram_bytes + self.cpu_bytes

    @property
    def cpu_percent(self) -> int:
        """As ``ollama ps`` rounds it."""
        return round(100 * self.cpu_bytes / self.total_bytes) if self.total_bytes else 0

    @property
    def processor(self) -> str:
        """The PROCESSOR column of ``ollama ps``."""
        cpu = self.cpu_percent
        if self.vram_bytes == 0:
            return "100% CPU"
        if cpu == 0:
            return "100% GPU"
        return f"{cpu}%/{100 - cpu}% CPU/GPU"


@dataclass(frozen=True)
class Estimate:
    chip: Chip
    model: ModelSpec
    workload: Workload
    memory: Memory
    prefill_tps: float
    decode_tps: float
    prefill_s: float
    image_s: float
    decode_s: float
    ttft_s: float
    e2e_s: float
    family: Family
    notes: tuple[str, ...] = field(default_factory=tuple)
    runner: str = DEFAULT_RUNNER
    #: Where the factors came from: "catalog" or a calibration's label.
    factors: str = "catalog"
    #: p10..p90 of the speeds, from the validation error (leave one chip out) of this chip's
    #: group and runner; None where no validation rows back it.
    decode_band: tuple[float, float] | None = None
    prefill_band: tuple[float, float] | None = None
    band_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the metric names ``llmbox bench`` uses; memory in GiB."""
        m = self.memory

        def gib(x: float) -> float:
            return round(x / GIB, 3)

        out: dict[str, Any] = {
            "chip": {
                "id": self.chip.id,
                "name": self.chip.name,
                "family": self.family.name,
                "bw_gbs": self.chip.bw_gbs,
                "launch_price_usd": self.chip.launch_price_usd,
            },
            "runner": self.runner,
            "factors": self.factors,
            "model": {
                "name": self.model.name,
                "params": self.model.params,
                "active_params": self.model.active,
                "quantization": self.model.quant,
                "bits_per_weight": round(self.model.bits_per_weight, 3),
                "source": self.model.source,
            },
            "workload": {
                "prompt_tokens": self.workload.prompt_tokens,
                "gen_tokens": self.workload.gen_tokens,
                "images": self.workload.images,
                "context": m.context,
                "parallel": m.parallel,
                "kv_cache": m.kv_cache,
                "flash_attention": self.workload.flash_attention,
                "gpus": self.workload.gpus,
            },
            "prefill_tps": round(self.prefill_tps, 2),
            "decode_tps": round(self.decode_tps, 2),
            "band": None
            if self.decode_band is None
            else {
                "percentiles": [10, 90],
                "decode_tps": [round(v, 2) for v in self.decode_band],
                "prefill_tps": None
                if self.prefill_band is None
                else [round(v, 2) for v in self.prefill_band],
                "validation_rows": self.band_rows,
            },
            "prefill_s": round(self.prefill_s, 4),
            "image_s": round(self.image_s, 4),
            "decode_s": round(self.decode_s, 4),
            "ttft_s": round(self.ttft_s, 4),
            "e2e_s": round(self.e2e_s, 4),
            "memory": {
                "weights_gib": gib(m.weights_bytes),
                "vision_gib": gib(m.vision_bytes),
                "kv_cache_gib": gib(m.kv_bytes),
                "overhead_gib": gib(m.overhead_bytes),
                "total_gib": gib(m.total_bytes),
                "machine_gb": m.memory_gb,
                "gpu_budget_gib": gib(m.gpu_budget_bytes),
                "vram_gib": gib(m.vram_bytes),
                "cpu_gib": gib(m.cpu_bytes),
                "layers_on_gpu": m.layers_on_gpu + int(m.output_on_gpu),
                "layers": m.layers + 1,
                "split": list(m.split),
                "processor": m.processor,
                "verdict": m.verdict,
            },
            "notes": list(self.notes),
        }
        return out


# --- memory ---------------------------------------------------------------------------------------


def context_for(model: ModelSpec, workload: Workload) -> int:
    """The context the runner allocates: ``--context``, else Ollama's default raised to hold
    prompt + answer, never beyond the model's maximum."""
    if workload.context is not None:
        return workload.context
    wanted = max(
        min(DEFAULT_CONTEXT, model.context_length),
        workload.depth + workload.prompt_tokens + workload.gen_tokens,
    )
    return min(wanted, model.context_length)


#: Ollama (>= 0.12.4) with OLLAMA_FLASH_ATTENTION unset, from ``llm/server.go`` and
#: ``fs/ggml/ggml.go``: models its own engine runs (``OllamaEngineRequired``) get flash attention
#: only when their architecture is on its ``FlashAttention()`` list; models served by llama.cpp
#: get ``--flash-attn auto``, i.e. on wherever the GPU supports it (Metal, CUDA, ROCm, Vulkan).
#: These are the engine's architectures that are *not* on the list: they run without it.
OLLAMA_ENGINE_WITHOUT_FLASH = frozenset({"mllama", "llama4", "gemma3n", "qwen25vl", "deepseek2"})
#: ... and the ones on the list (a quantized KV cache applies to these without setting
#: OLLAMA_FLASH_ATTENTION=1; llama.cpp-served models drop it under ``auto``).
OLLAMA_ENGINE_WITH_FLASH = frozenset(
    {"gemma3", "gptoss", "gpt-oss", "qwen3", "qwen3moe", "qwen3vl", "qwen3vlmoe", "mistral3"}
    | {"olmo3", "lfm2", "lfm2moe", "glm4moelite", "qwen35", "qwen35moe", "qwen3next"}
)


def flash_attention_default(runner: str, model: ModelSpec) -> bool:
    """Whether ``runner`` uses flash attention for ``model`` when nobody says: llama-bench's
    ``-fa`` defaults to off; Ollama decides per architecture (above); MLX and vLLM always use
    their fused attention kernels."""
    if runner in ("llama.cpp", "llama.cpp-vulkan"):
        return False
    if runner == "ollama":
        return (model.arch or "llama") not in OLLAMA_ENGINE_WITHOUT_FLASH
    return True


def attention_setup(runner: str, model: ModelSpec, workload: Workload) -> tuple[bool, str]:
    """(flash attention on, KV cache type applied) as the runner resolves them. A quantized KV
    cache needs flash attention; Ollama applies it only where flash attention was asked for
    (OLLAMA_FLASH_ATTENTION=1) or is on by the model's own default in its engine."""
    asked = workload.flash_attention
    flash = flash_attention_default(runner, model) if asked is None else asked
    quant_ok = flash
    if runner == "ollama" and asked is None:
        quant_ok = flash and (model.arch or "llama") in OLLAMA_ENGINE_WITH_FLASH
    return flash, workload.kv_cache if quant_ok else "f16"


def kv_cache_type(workload: Workload) -> str:
    """The KV cache type of a workload whose attention is resolved (:func:`attention_setup`)."""
    return workload.kv_cache if workload.flash_attention else "f16"


def kv_layer_bytes(model: ModelSpec, context: int, kv_cache: str, parallel: int) -> float:
    """KV cache of the self-attention layers, all of them, for ``parallel`` slots."""
    per_token_layer = model.kv_layer_bytes_per_token * KV_CACHE_BYTES[kv_cache] / 2
    return per_token_layer * model.kv_tokens_held(context) * parallel


def graph_bytes(model: ModelSpec, context: int, flash_attention: bool) -> tuple[float, float]:
    """(full offload, partial offload) compute-graph sizes, in the form of Ollama's estimate for
    llama-family models: activations of one 512-token batch, the attention scores (which flash
    attention does without), and the logits; a partial offload also stages the output layer."""
    e, h, hkv, dh = model.hidden, model.heads, model.kv_heads, model.head_dim
    vocab = model.vocab or 32000
    scores = 0 if flash_attention else context * (1 + h)
    full = max(4 * BATCH * (1 + 4 * e + scores), 4 * BATCH * (e + vocab))
    partial = 4 * BATCH * e + max(
        4 * BATCH * (1 + e + max(context, e))
        + e * e * 9 / 16
        + 4 * context * (BATCH * h + dh * hkv),
        4 * BATCH * (e + vocab) + e * vocab * 105 / 128,
    )
    return float(full), float(partial)


def image_buffer_bytes(model: ModelSpec) -> float:
    """The vision encoder's compute buffers, sized as Ollama sizes mllama's: pixels, patch
    embeddings, nine activations per padded patch, and the attention scores over all tiles."""
    if not model.multimodal:
        return 0.0
    patches = model.vision_tokens_per_image
    padded = patches + (-patches) % 8
    tiles = model.vision_max_tiles
    pixels = (math.isqrt(max(patches - 1, 1)) * 14) ** 2
    e, h = model.vision_hidden, model.vision_heads
    return 4.0 * (
        8
        + pixels * 3 * tiles
        + e * patches * tiles
        + 9 * e * padded * tiles
        + (padded * tiles) ** 2 * h
    )


def memory_need(model: ModelSpec, workload: Workload) -> tuple[float, float, float, float]:
    """(weights, vision, kv cache, overhead) in bytes, if everything went to one GPU."""
    context = context_for(model, workload)
    kv = kv_layer_bytes(model, context, kv_cache_type(workload), workload.parallel)
    kv += model.image_kv_bytes
    full, partial = graph_bytes(model, context * workload.parallel, bool(workload.flash_attention))
    overhead = max(full, partial) + image_buffer_bytes(model)
    return model.weight_bytes, model.vision_bytes, kv, overhead


def gpu_budget(chip: Chip, catalog: Catalog, memory_gb: float) -> float:
    """Bytes the GPU may allocate, per GPU."""
    if chip.kind == "cpu":
        return 0.0
    if chip.kind == "dgpu":
        return max(0.0, memory_gb * GIB - DGPU_RESERVE)
    return memory_gb * GIB * catalog.gpu_share(chip, memory_gb)


def plan_memory(
    chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload, memory_gb: float
) -> Memory:
    """Place the model as Ollama's scheduler does (``llm/memory.go``): the vision encoder's
    weights and image buffers on the first GPU, then each layer (weights + its KV cache) on the
    GPUs in turn while it fits beside the compute graph, then the output layer."""
    context = context_for(model, workload)
    kv_type = kv_cache_type(workload)
    n = model.layers
    self_kv = kv_layer_bytes(model, context, kv_type, workload.parallel)
    cross = model.image_kv_bytes
    kv_per_layer = self_kv / n + cross / n
    layer = model.layer_bytes + kv_per_layer
    output = model.output_bytes
    vision = model.vision_bytes + image_buffer_bytes(model)
    full, partial = graph_bytes(model, context * workload.parallel, bool(workload.flash_attention))
    graph = max(full, partial)
    # The GPU backend's reserve: a CPU-only machine has none, so its memory line adds up
    minimum = (
        0.0 if chip.kind == "cpu" else GPU_MINIMUM["apple" if chip.vendor == "apple" else "other"]
    )
    budget = gpu_budget(chip, catalog, memory_gb)
    gpus = workload.gpus if chip.kind == "dgpu" else 1
    alloc = [0.0] * gpus
    with_space = [
        i
        for i in range(gpus)
        if budget > (vision if i == 0 else 0) + graph + minimum + 2 * layer and chip.kind != "cpu"
    ]
    for i in with_space:
        alloc[i] += minimum + layer  # Ollama holds one layer's room before placing any
    if with_space:
        alloc[with_space[0]] += vision
    counts = [0] * gpus
    placed = 0
    for i in range(n):
        while with_space:
            g = with_space[i % len(with_space)]
            if budget > alloc[g] + graph + layer:
                alloc[g] += layer
                counts[g] += 1
                placed += 1
                break
            with_space.remove(g)
        else:
            break
    output_on_gpu = False
    if placed == n and output:
        for g in with_space:
            if budget > alloc[g] + graph + output:
                alloc[g] += output
                output_on_gpu = True
                break
    elif placed == n:
        output_on_gpu = True
    fully = placed == n and output_on_gpu
    for g in range(gpus):
        if counts[g]:
            alloc[g] += full if fully else partial
    vram = sum(alloc)
    if vram and not placed:  # nothing but the encoder fitted: the runner keeps it all on the CPU
        vram = 0.0
    overflow = (n - placed) * layer + (0 if output_on_gpu else output)
    if vram == 0:
        overflow = model.weight_bytes + self_kv + cross + vision + partial
    weights_read = model.active_weight_bytes - output
    kv_read = kv_per_layer
    gpu_read = placed / n * (weights_read + kv_read * n) + (output if output_on_gpu else 0)
    fraction = gpu_read / (weights_read + kv_read * n + output) if chip.kind != "cpu" else 0.0
    if chip.kind == "cpu":
        ram_need = vram + overflow
        verdict = "cpu" if ram_need <= memory_gb * GIB * (1 - OS_RESERVE_SHARE) else "does-not-fit"
    elif fully:
        verdict = "fits"
    else:
        if chip.kind == "dgpu":
            ram = workload.ram_gb
            host_ok = ram is None or overflow <= ram * GIB * (1 - OS_RESERVE_SHARE)
        else:
            host_ok = vram + overflow <= memory_gb * GIB * (1 - OS_RESERVE_SHARE)
        verdict = ("partial" if placed else "cpu") if host_ok else "does-not-fit"
    return Memory(
        weights_bytes=model.weight_bytes,
        vision_bytes=model.vision_bytes,
        kv_bytes=self_kv + cross,
        overhead_bytes=(full if fully else partial) + image_buffer_bytes(model) + minimum,
        memory_gb=memory_gb,
        gpu_budget_bytes=budget * gpus,
        gpu_fraction=fraction,
        verdict=verdict,
        context=context,
        layers=n,
        layers_on_gpu=placed,
        output_on_gpu=output_on_gpu,
        split=tuple(counts) if gpus > 1 else (),
        vram_bytes=vram,
        cpu_bytes=overflow,
        kv_cache=kv_type,
        parallel=workload.parallel,
    )


def fit_memory(chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload) -> Memory:
    """The plan at ``--memory``, else at the smallest memory size offered where it fits."""
    if workload.memory_gb is not None:
        return plan_memory(chip, catalog, model, workload, workload.memory_gb)
    options = [plan_memory(chip, catalog, model, workload, s) for s in sorted(chip.memory_gb)]
    good = "cpu" if chip.kind == "cpu" else "fits"
    return next((m for m in options if m.verdict == good), options[-1])


# --- speed ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Engine:
    """Bandwidth (GB/s) and compute (TFLOPS) one side of a split reaches, and its fixed costs."""

    bw_gbs: float
    tflops: float | None
    layer_ms: float
    label: str
    #: A fixed prompt-processing cost per layer per batch of ``BATCH`` tokens (ms).
    batch_layer_ms: float = 0.0


def _engines(chip: Chip, catalog: Catalog, basis: str | None = None) -> tuple[_Engine, _Engine]:
    """(GPU side, CPU side) for this chip. For a CPU both are the CPU. ``basis`` is the
    compute figure prefill runs on where it is not the family's (an older llama.cpp era's)."""
    fam = catalog.family(chip)
    compute = chip.compute_tflops(basis or fam.compute)
    main = _Engine(
        chip.bw_gbs * fam.decode_bw_eff,
        prefill_tflops(chip, catalog, compute * fam.prefill_eff) if compute else None,
        fam.decode_layer_ms,
        chip.name,
    )
    if chip.kind == "cpu":
        return main, main
    if chip.kind == "soc":
        cpu_fam = catalog.families.get("cpu", fam)
        side = _Engine(
            chip.bw_gbs * fam.cpu_bw_share,
            fam.cpu_tflops * cpu_fam.prefill_eff,
            cpu_fam.decode_layer_ms,
            f"{chip.name} CPU cores",
        )
        return main, side
    host_id = fam.offload_host
    host = catalog.chips.get(host_id) if host_id else None
    if host is None:
        host = next(c for c in catalog.chips.values() if c.kind == "cpu")
    host_fam = catalog.family(host)
    host_compute = host.compute_tflops(host_fam.compute)
    side = _Engine(
        host.bw_gbs * host_fam.decode_bw_eff,
        host_compute * host_fam.prefill_eff if host_compute else None,
        host_fam.decode_layer_ms,
        host.name,
    )
    return main, side


def power_cap_tflops(chip: Chip, catalog: Catalog) -> float | None:
    """The prefill rate ``chip``'s board power allows (effective TFLOPS), where its architecture
    has a fitted work per watt and the chip a board power."""
    arch = catalog.architecture(chip)
    if arch is None or arch.prefill_tflops_per_w is None or not chip.board_power_w:
        return None
    return chip.board_power_w * arch.prefill_tflops_per_w


def prefill_tflops(chip: Chip, catalog: Catalog, from_compute: float) -> float:
    """The prefill rate: the family's share of the compute figure, unless the board's power
    allows less (a big die at a modest board power, e.g. a 300 W AD102)."""
    cap = power_cap_tflops(chip, catalog)
    return from_compute if cap is None else min(from_compute, cap)


def decode_seconds_per_token(
    model: ModelSpec,
    gpu: _Engine,
    cpu: _Engine,
    gpu_fraction: float,
    kv_tokens: float,
    *,
    image_kv: float = 0.0,
    kv_scale: float = 1.0,
    hops: int = 0,
    kv_cost: float = 1.0,
) -> float:
    """Time to generate one token with ``kv_tokens`` of context already in the cache.

    ``gpu_fraction`` of the bytes are read by the GPU; ``hops`` device hand-overs per token."""
    kv = model.kv_layer_bytes_per_token * model.kv_tokens_held(kv_tokens) * kv_scale * kv_cost
    read = model.active_weight_bytes + kv + image_kv
    g = gpu_fraction
    t = g * read / (gpu.bw_gbs * GB) + (1 - g) * read / (cpu.bw_gbs * GB)
    t += (g * gpu.layer_ms + (1 - g) * cpu.layer_ms) * model.layers / 1000
    if 0 < g < 1 and not hops:
        hops = 2
    return t + hops * gpu.layer_ms / 1000


def prefill_flops(model: ModelSpec, tokens: int, depth: int = 0, attn_cost: float = 1.0) -> float:
    """FLOP to process a causal prompt of ``tokens`` tokens after ``depth`` cached ones, the
    attention part counted ``attn_cost`` times (it runs at a lower efficiency than the matrix
    multiplies)."""
    matmul = 2 * model.active * tokens
    # Per layer and head, query i reads depth + i keys twice (Q·K and scores·V, 2 FLOP per
    # multiply-add): 4 x head_dim x (depth + i); kv_tokens_held sums the keys over the layers
    # (a sliding window caps those of its layers).
    keys = model.kv_tokens_held(depth + tokens / 2)
    attention = 4 * model.heads * model.head_dim * tokens * keys
    return matmul + attention * attn_cost


def prefill_seconds(
    model: ModelSpec,
    gpu: _Engine,
    cpu: _Engine,
    gpu_fraction: float,
    tokens: int,
    *,
    depth: int = 0,
    attn_cost: float = 1.0,
) -> float | None:
    if tokens == 0:
        return 0.0
    factor = lookup(model.quant).prefill_factor
    flops = prefill_flops(model, tokens, depth, attn_cost)
    g = gpu_fraction
    total = 0.0
    for share, eng in ((g, gpu), (1 - g, cpu)):
        if share <= 0:
            continue
        if eng.tflops is None:
            return None
        compute = share * flops / (eng.tflops * 1e12 * factor)
        stream = share * model.active_weight_bytes / (eng.bw_gbs * GB)
        batches = math.ceil(tokens / BATCH)
        total += max(compute, stream) + share * model.layers * batches * eng.batch_layer_ms / 1000
    return total + model.layers * gpu.layer_ms / 1000


def image_seconds(model: ModelSpec, gpu: _Engine, images: int) -> float:
    if images == 0 or not model.multimodal:
        return 0.0
    if gpu.tflops is None:
        return float("nan")
    flops = 2 * model.vision_params * model.vision_tokens_per_image * images
    return flops / (gpu.tflops * 1e12 * lookup(model.vision_quant).prefill_factor)


def era_for(catalog: Catalog, name: str) -> Era:
    """The factors of an older llama.cpp build era; an unknown one is a usage error."""
    era = catalog.eras.get(name)
    if era is None:
        known = [CURRENT_ERA, *sorted(catalog.eras)]
        raise UsageError(f"unknown llama.cpp era {name!r}", hint="one of " + ", ".join(known))
    return era


def era_compute(catalog: Catalog, family: str, era: str) -> str | None:
    """The compute figure ``family``'s prefill ran on in ``era``, where it is not its own."""
    if era == CURRENT_ERA:
        return None
    return era_for(catalog, era).compute.get(family)


def runner_for(catalog: Catalog, chip: Chip, name: str) -> Runner:
    """The runner's factors; a runner that does not run on this chip is a usage error."""
    if name == "llama.cpp":
        return catalog.runners.get(name) or Runner(name)
    runner = catalog.runners.get(name)
    if runner is None:
        return Runner(name)
    if runner.only and chip.family not in runner.only:
        raise UsageError(
            f"--runner {name} does not run on {chip.name} ({chip.family})",
            hint="runs on: " + ", ".join(runner.only),
        )
    return runner


def estimate(chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload) -> Estimate:
    """Predict speed and memory fit of ``model`` on ``chip`` for ``workload``."""
    workload.validate()
    notes: list[str] = workload.check_context(model)
    runner = runner_for(catalog, chip, workload.runner)
    if workload.gpus > 1 and chip.kind != "dgpu":
        raise UsageError(
            f"--gpus {workload.gpus}: {chip.name} is not a discrete GPU",
            hint="--gpus counts graphics cards of the same kind (e.g. --chip 4090 --gpus 2)",
        )
    fam = catalog.family(chip)
    flash, kv_type = attention_setup(runner.name, model, workload)
    if kv_type != workload.kv_cache:
        notes.append(
            f"a {workload.kv_cache} KV cache needs flash attention asked for "
            "(OLLAMA_FLASH_ATTENTION=1, --flash-attention): f16 assumed"
        )
    workload = replace(workload, flash_attention=flash, kv_cache=kv_type)
    sizes = chip.memory_gb
    asked = workload.memory_gb
    if (
        asked is not None
        and chip.kind != "cpu"
        and sizes
        and all(abs(asked - s) >= 0.5 for s in sizes)
    ):
        notes.append(
            f"{chip.name} is sold with {'/'.join(f'{s:g}' for s in sizes)} GB, not "
            f"{asked:g}: estimated at --memory {asked:g} as asked"
        )
    mem = fit_memory(chip, catalog, model, workload)
    gpu, cpu = _engines(chip, catalog, era_compute(catalog, fam.name, workload.era))
    if workload.era != CURRENT_ERA and gpu.tflops:
        # An older build's kernels: their prefill compute rate (the memory side is the chip's).
        era = era_for(catalog, workload.era)
        gpu = replace(
            gpu,
            tflops=gpu.tflops * era.factor("prefill", fam.name),
            batch_layer_ms=era.layer_ms(fam.name),
        )
    g = mem.gpu_fraction if chip.kind != "cpu" else 1.0
    if mem.verdict == "does-not-fit":
        notes.append(
            f"needs {mem.total_bytes / GIB:.1f} GiB but the machine has {mem.memory_gb:g} GB: "
            "the speeds assume it could be loaded anyway"
        )
    elif mem.verdict == "partial":
        notes.append(
            f"{mem.layers - mem.layers_on_gpu + (not mem.output_on_gpu)} of {mem.layers + 1} "
            f"layers run on {cpu.label} ({cpu.bw_gbs:.0f} GB/s reached), which sets much of "
            "the decode time"
        )
        if chip.kind == "dgpu" and workload.ram_gb is None:
            notes.append(
                f"{mem.cpu_bytes / GIB:.1f} GiB spill to system RAM: give --ram to check it fits"
            )
    hops = 0
    tensor = runner.tensor_parallel and workload.gpus > 1 and chip.kind == "dgpu"
    if chip.kind == "dgpu" and workload.gpus > 1:
        hops = workload.gpus - 1 if not tensor else 0
        if not tensor:
            notes.append(
                f"{workload.gpus} GPUs split by layers ({runner.name}): memory pools, decode "
                "does not speed up"
            )
    kv_scale = KV_CACHE_BYTES[mem.kv_cache] / 2
    image_kv = model.image_kv_bytes if workload.images else 0.0
    start = workload.depth + workload.prompt_tokens
    mid_context = start + workload.gen_tokens / 2
    if tensor:
        n = workload.gpus
        tflops = gpu.tflops * n * TENSOR_SCALING if gpu.tflops else None
        gpu = _Engine(gpu.bw_gbs * n * TENSOR_SCALING, tflops, gpu.layer_ms * 1.5, gpu.label)
        notes.append(
            f"{n} GPUs split tensors ({runner.name}): {TENSOR_SCALING:.0%} scaling assumed"
        )

    def per_token(kv_tokens: float) -> float:
        return decode_seconds_per_token(
            model,
            gpu,
            cpu,
            g,
            kv_tokens,
            image_kv=image_kv,
            kv_scale=kv_scale,
            hops=hops,
            kv_cost=fam.decode_kv_cost_fa if flash else fam.decode_kv_cost,
        )

    t_tok = per_token(mid_context)
    t_first = per_token(start)
    t_prefill = prefill_seconds(
        model,
        gpu,
        cpu,
        g,
        workload.prompt_tokens,
        depth=workload.depth,
        attn_cost=fam.prefill_attn_cost,
    )
    if t_prefill is None:
        notes.append(f"{chip.name} has no compute figure in the catalog: prefill is unknown")
        t_prefill = float("nan")
    t_image = image_seconds(model, gpu, workload.images)
    if workload.images and not model.multimodal:
        notes.append(f"{model.name} has no vision encoder in its description: images ignored")
    dec_f = runner.factor("decode", fam.name)
    pre_f = runner.factor("prefill", fam.name)
    if workload.era != CURRENT_ERA:
        era = era_for(catalog, workload.era)
        dec_f *= era.factor("decode", fam.name)
        notes.append(f"llama.cpp as of {era.name}: {era.note or era.fitted_on}")
    t_tok, t_first = t_tok / dec_f, t_first / dec_f
    t_prefill, t_image = t_prefill / pre_f, t_image / pre_f
    decode_s = workload.gen_tokens * t_tok
    ttft = t_prefill + t_image + t_first
    prompt_tps = workload.prompt_tokens / t_prefill if t_prefill else float("nan")
    if chip.confidence == "uncertain":
        notes.append(f"{chip.name}: catalog figures marked uncertain")
    if fam.fitted_on == "prior":
        notes.append(f"family {fam.name}: efficiency factors are priors, not fitted")
    elif fam.fitted_on.startswith("calibrated"):
        notes.append(f"family {fam.name} with {runner.name}: your saved {fam.fitted_on}")
    if runner.name != "llama.cpp" and runner.fitted_on == "prior":
        notes.append(f"runner {runner.name}: its factors are priors, not fitted")
    if model.note:
        notes.append(model.note)
    band = catalog.band(chip, runner.name)
    decode_tps = 1 / t_tok
    decode_band = prefill_band = None
    if band is not None:
        decode_band = (decode_tps * band.decode[0], decode_tps * band.decode[1])
        if math.isfinite(prompt_tps):
            prefill_band = (prompt_tps * band.prefill[0], prompt_tps * band.prefill[1])
    return Estimate(
        chip=chip,
        model=model,
        workload=workload,
        memory=mem,
        prefill_tps=prompt_tps,
        decode_tps=decode_tps,
        prefill_s=t_prefill,
        image_s=t_image,
        decode_s=decode_s,
        ttft_s=ttft,
        e2e_s=ttft + max(0, workload.gen_tokens - 1) * t_tok,
        family=fam,
        notes=tuple(notes),
        runner=runner.name,
        factors=fam.fitted_on if fam.fitted_on.startswith("calibrated") else "catalog",
        decode_band=decode_band,
        prefill_band=prefill_band,
        band_rows=band.rows if band else 0,
    )
