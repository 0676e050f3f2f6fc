"""The estimator: speed and memory fit of one model on one chip, from first principles plus a few
efficiency factors per chip family (see docs/hw-estimate.md for the model and its assumptions).

Pure functions on plain data; nothing here reads files, the network or the clock.

* **Decode** is bound by memory bandwidth: each token reads the active weights and the KV cache
  once, at ``bandwidth x decode_bw_eff``, plus a fixed cost per layer (kernel launches, syncs).
* **Prefill** is bound by compute: ``2 x active params`` FLOP per token plus attention
  (``2 x layers x heads x head_dim x N²`` for a causal prompt of N tokens), at
  ``TFLOPS x prefill_eff x quant factor``; never faster than one pass over the weights.
* **Images** add the vision encoder's ``2 x vision params x tokens per image`` to prefill.
* **Partial offload** splits the layers between GPU and CPU, each read at its own bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog, Chip, Family
from llmbox.hw.models import ModelSpec
from llmbox.hw.quant import lookup

GB = 1e9
#: Context (tokens) a runner allocates by default: Ollama's default ``num_ctx``.
DEFAULT_CONTEXT = 4096
DEFAULT_PROMPT_TOKENS = 512
DEFAULT_GEN_TOKENS = 128
#: Runtime memory besides weights and KV cache: the backend's context and buffers (bytes) ...
RUNTIME_BASE_BYTES = 0.5 * GB
#: ... plus compute buffers that grow with the model (share of the weights).
RUNTIME_WEIGHT_SHARE = 0.06
#: Memory the operating system keeps for itself on a machine whose RAM holds the model.
OS_RESERVE_SHARE = 0.1
#: The largest --memory accepted (GB): a petabyte is a typo, not a machine.
MAX_MEMORY_GB = 1e5


@dataclass(frozen=True)
class Workload:
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    #: KV cache size allocated (tokens); None = min(DEFAULT_CONTEXT, model maximum), at least
    #: prompt + generated tokens.
    context: int | None = None
    images: int = 0
    #: Memory size of the machine (GB); None = the smallest size offered where the model fits.
    memory_gb: float | None = None

    def validate(self) -> None:
        for name in ("prompt_tokens", "gen_tokens", "images"):
            if getattr(self, name) < 0:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must not be negative", hint=f"e.g. {flag} 512")
        if self.context is not None and self.context <= 0:
            raise UsageError("--context must be positive", hint="e.g. --context 4096")
        if self.memory_gb is not None and not 0 < self.memory_gb <= MAX_MEMORY_GB:
            raise UsageError(
                f"--memory {self.memory_gb:g}: expected a size in GB, above 0 and at most "
                f"{MAX_MEMORY_GB:g}",
                hint="e.g. --memory 24",
            )

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
    weights_bytes: float
    vision_bytes: float
    kv_bytes: float
    overhead_bytes: float
    #: The machine's memory (GB) and what the GPU may use of it (bytes).
    memory_gb: float
    gpu_budget_bytes: float
    #: Share of the layers that runs on the GPU (1.0 = all; 0.0 on a CPU).
    gpu_fraction: float
    verdict: str  # fits | partial | cpu | does-not-fit
    context: int

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.vision_bytes + self.kv_bytes + self.overhead_bytes


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the metric names ``llmbox bench`` uses."""
        m = self.memory
        return {
            "chip": {"id": self.chip.id, "name": self.chip.name, "family": self.family.name},
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
            },
            "prefill_tps": round(self.prefill_tps, 2),
            "decode_tps": round(self.decode_tps, 2),
            "prefill_s": round(self.prefill_s, 4),
            "image_s": round(self.image_s, 4),
            "decode_s": round(self.decode_s, 4),
            "ttft_s": round(self.ttft_s, 4),
            "e2e_s": round(self.e2e_s, 4),
            "memory": {
                "weights_gb": round(m.weights_bytes / GB, 3),
                "vision_gb": round(m.vision_bytes / GB, 3),
                "kv_cache_gb": round(m.kv_bytes / GB, 3),
                "overhead_gb": round(m.overhead_bytes / GB, 3),
                "total_gb": round(m.total_bytes / GB, 3),
                "machine_gb": m.memory_gb,
                "gpu_budget_gb": round(m.gpu_budget_bytes / GB, 3),
                "gpu_share": round(m.gpu_fraction, 3),
                "verdict": m.verdict,
            },
            "notes": list(self.notes),
        }


# --- memory ---------------------------------------------------------------------------------------


def context_for(model: ModelSpec, workload: Workload) -> int:
    """The context the runner allocates: ``--context``, else Ollama's default raised to hold
    prompt + answer, never beyond the model's maximum."""
    if workload.context is not None:
        return workload.context
    wanted = max(
        min(DEFAULT_CONTEXT, model.context_length), workload.prompt_tokens + workload.gen_tokens
    )
    return min(wanted, model.context_length)


def memory_need(model: ModelSpec, context: int) -> tuple[float, float, float, float]:
    """(weights, vision, kv cache, runtime overhead) in bytes."""
    weights = model.weight_bytes
    vision = model.vision_bytes
    kv = model.kv_bytes_per_token * context
    overhead = RUNTIME_BASE_BYTES + RUNTIME_WEIGHT_SHARE * (weights + vision)
    return weights, vision, kv, overhead


def fit_memory(chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload) -> Memory:
    """Where the model goes: all on the GPU, split between GPU and CPU, on the CPU, or nowhere."""
    context = context_for(model, workload)
    weights, vision, kv, overhead = memory_need(model, context)
    total = weights + vision + kv + overhead

    def place(memory_gb: float) -> Memory:
        ram = memory_gb * GB
        if chip.kind == "cpu":
            verdict = "cpu" if total <= ram * (1 - OS_RESERVE_SHARE) else "does-not-fit"
            return Memory(weights, vision, kv, overhead, memory_gb, 0.0, 0.0, verdict, context)
        budget = ram * catalog.gpu_share(chip, memory_gb)
        if total <= budget:
            return Memory(weights, vision, kv, overhead, memory_gb, budget, 1.0, "fits", context)
        # Layers (weights + their KV) that fit beside the fixed parts stay on the GPU.
        room = budget - overhead - vision
        fraction = max(0.0, min(1.0, room / (weights + kv))) if weights + kv else 0.0
        host_ok = chip.kind == "dgpu" or total <= ram * (1 - OS_RESERVE_SHARE)
        verdict = "partial" if host_ok else "does-not-fit"
        return Memory(weights, vision, kv, overhead, memory_gb, budget, fraction, verdict, context)

    if workload.memory_gb is not None:
        return place(workload.memory_gb)
    options = [place(size) for size in sorted(chip.memory_gb)]
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


def _engines(chip: Chip, catalog: Catalog) -> tuple[_Engine, _Engine]:
    """(GPU side, CPU side) for this chip. For a CPU both are the CPU."""
    fam = catalog.family(chip)
    compute = chip.compute_tflops(fam.compute)
    main = _Engine(
        chip.bw_gbs * fam.decode_bw_eff,
        compute * fam.prefill_eff if compute else None,
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


def decode_seconds_per_token(
    model: ModelSpec, gpu: _Engine, cpu: _Engine, gpu_fraction: float, kv_tokens: float
) -> float:
    """Time to generate one token with ``kv_tokens`` of context already in the cache."""
    read = model.active_weight_bytes + model.kv_bytes_per_token * kv_tokens
    g = gpu_fraction
    t = g * read / (gpu.bw_gbs * GB) + (1 - g) * read / (cpu.bw_gbs * GB)
    t += (g * gpu.layer_ms + (1 - g) * cpu.layer_ms) * model.layers / 1000
    if 0 < g < 1:
        t += 2 * gpu.layer_ms / 1000  # hand-over between devices, twice per token
    return t


def prefill_flops(model: ModelSpec, tokens: int) -> float:
    """FLOP to process a causal prompt of ``tokens`` tokens."""
    layers = model.kv_layers if model.kv_layers is not None else model.layers
    matmul = 2 * model.active * tokens
    attention = 2 * layers * model.heads * model.head_dim * tokens * tokens
    return matmul + attention


def prefill_seconds(
    model: ModelSpec, gpu: _Engine, cpu: _Engine, gpu_fraction: float, tokens: int
) -> float | None:
    if tokens == 0:
        return 0.0
    factor = lookup(model.quant).prefill_factor
    flops = prefill_flops(model, tokens)
    g = gpu_fraction
    total = 0.0
    for share, eng in ((g, gpu), (1 - g, cpu)):
        if share <= 0:
            continue
        if eng.tflops is None:
            return None
        compute = share * flops / (eng.tflops * 1e12 * factor)
        stream = share * model.active_weight_bytes / (eng.bw_gbs * GB)
        total += max(compute, stream)
    return total + model.layers * gpu.layer_ms / 1000


def image_seconds(model: ModelSpec, gpu: _Engine, images: int) -> float:
    if images == 0 or not model.multimodal:
        return 0.0
    if gpu.tflops is None:
        return float("nan")
    flops = 2 * model.vision_params * model.vision_tokens_per_image * images
    return flops / (gpu.tflops * 1e12 * lookup(model.vision_quant).prefill_factor)


def estimate(chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload) -> Estimate:
    """Predict speed and memory fit of ``model`` on ``chip`` for ``workload``."""
    workload.validate()
    notes: list[str] = workload.check_context(model)
    fam = catalog.family(chip)
    mem = fit_memory(chip, catalog, model, workload)
    gpu, cpu = _engines(chip, catalog)
    g = mem.gpu_fraction if chip.kind != "cpu" else 1.0
    if mem.verdict == "does-not-fit":
        g = mem.gpu_fraction
        notes.append(
            f"needs {mem.total_bytes / GB:.1f} GB but the machine has {mem.memory_gb:g} GB: "
            "the speeds assume it could be loaded anyway"
        )
    elif mem.verdict == "partial":
        notes.append(
            f"{(1 - g) * 100:.0f}% of the layers run on {cpu.label} "
            f"({cpu.bw_gbs:.0f} GB/s reached), which sets most of the decode time"
        )
    mid_context = workload.prompt_tokens + workload.gen_tokens / 2
    t_tok = decode_seconds_per_token(model, gpu, cpu, g, mid_context)
    t_first = decode_seconds_per_token(model, gpu, cpu, g, workload.prompt_tokens)
    t_prefill = prefill_seconds(model, gpu, cpu, g, workload.prompt_tokens)
    if t_prefill is None:
        notes.append(f"{chip.name} has no compute figure in the catalog: prefill is unknown")
        t_prefill = float("nan")
    t_image = image_seconds(model, gpu, workload.images)
    if workload.images and not model.multimodal:
        notes.append(f"{model.name} has no vision encoder in its description: images ignored")
    decode_s = workload.gen_tokens * t_tok
    ttft = t_prefill + t_image + t_first
    prompt_tps = workload.prompt_tokens / t_prefill if t_prefill else float("nan")
    if chip.confidence == "uncertain":
        notes.append(f"{chip.name}: catalog figures marked uncertain")
    if fam.fitted_on == "prior":
        notes.append(f"family {fam.name}: efficiency factors are priors, not fitted")
    if model.note:
        notes.append(model.note)
    return Estimate(
        chip=chip,
        model=model,
        workload=workload,
        memory=mem,
        prefill_tps=prompt_tps,
        decode_tps=1 / t_tok,
        prefill_s=t_prefill,
        image_s=t_image,
        decode_s=decode_s,
        ttft_s=ttft,
        e2e_s=ttft + max(0, workload.gen_tokens - 1) * t_tok,
        family=fam,
        notes=tuple(notes),
    )
