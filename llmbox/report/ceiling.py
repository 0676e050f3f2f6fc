"""Measured against predicted: each result beside ``hw-estimate``'s prediction for the machine it
ran on, both as a share of the chip's ceilings.

Decode is bound by memory bandwidth: a token reads the active weights and the KV cache once, so
``tok/s x bytes per token`` is the bandwidth a run reached, shown as % of the chip's peak GB/s.
Prefill is bound by compute: ``tok/s x FLOP per token`` over the chip's peak TFLOPS (the figure
the chip's efficiency family uses, FP16 or FP32). The machine's chip comes from the report's
``machine`` block (an Apple chip, an NVIDIA GPU, else the CPU described from its facts), or from
``--chip``. Uses only the public functions of ``llmbox.hw``.
"""

from __future__ import annotations

import json
import math
import platform
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog, Chip, HostFacts, chip_from_facts, this_machine
from llmbox.hw.estimate import GB, Workload, estimate, prefill_flops
from llmbox.hw.models import ModelCatalog, ModelSpec, from_params, with_quant
from llmbox.report.data import Entry, pool
from llmbox.results import CaseResult

_GPU_WORDS = ("nvidia", "geforce", "amd", "radeon", "intel", "arc")


@dataclass(frozen=True)
class Ceilings:
    rows: list[dict[str, Any]]
    #: One line per chip: the median share of its ceilings the results reached.
    headlines: list[str]
    #: Results left out, and why.
    notes: list[str]


def _try(catalog: Catalog, name: str) -> Chip | None:
    try:
        return catalog.resolve(name)
    except UsageError:
        return None


def _gpu_chip(catalog: Catalog, name: str) -> Chip | None:
    words = name.split()
    trimmed = [w for w in words if w.lower() not in _GPU_WORDS]
    for candidate in (name, " ".join(trimmed), "".join(trimmed[-1:])):
        if candidate and (chip := _try(catalog, candidate)) is not None:
            return chip
    return None


def machine_chip(machine: dict[str, Any], catalog: Catalog) -> Chip:
    """The catalog chip a report's ``machine`` block describes: its Apple chip, its first NVIDIA
    GPU, else its CPU (this machine's own description when the report ran here)."""
    if (apple := machine.get("chip")) and (chip := _try(catalog, str(apple))) is not None:
        return chip
    for gpu in machine.get("gpus") or []:
        if (chip := _gpu_chip(catalog, str(gpu.get("name", "")))) is not None:
            return chip
    if machine.get("hostname") == platform.node():
        return this_machine(catalog)
    arch = str(machine.get("arch", "")).lower()
    memory = machine.get("memory_bytes")
    facts = HostFacts(
        cpu_name=str(machine.get("cpu") or "unknown CPU"),
        cores=int(machine.get("cpu_count") or 1),
        ghz=None,
        memory_gb=memory / GB if isinstance(memory, (int, float)) else None,
        isa="neon" if arch in ("arm64", "aarch64") else "avx2",
    )
    chip = chip_from_facts(facts, catalog)
    return replace(chip, name=f"{facts.cpu_name}, {facts.cores} cores")


def model_spec(result: CaseResult, models: ModelCatalog) -> ModelSpec | None:
    """The estimator's description of a result's model: the catalog's entry at the measured
    quantization, else one guessed from the parameter count the server reported."""
    info = result.model_info
    quant = info.quantization or None
    spec = models.get(result.model)
    if spec is not None:
        try:
            return with_quant(spec, quant)
        except UsageError:
            return spec
    size: str | float | None = info.parameter_size or info.parameter_count
    if not size:
        return None
    try:
        return from_params(size, quant or "Q4_K_M")
    except UsageError:
        return from_params(size, "Q4_K_M")


def _memory_gb(machine: dict[str, Any], chip: Chip) -> float | None:
    if chip.kind == "dgpu":
        mib = next((g.get("memory_mib") for g in machine.get("gpus") or []), None)
        return mib * 2**20 / GB if mib else None
    memory = machine.get("memory_bytes")
    return memory / GB if isinstance(memory, (int, float)) and memory > 0 else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ceilings(
    items: Sequence[Entry], catalog: Catalog, models: ModelCatalog, chip: str | None = None
) -> Ceilings:
    """Rows of (series, case, metric): measured and predicted tok/s, each as % of the chip's
    ceiling, for single-request cases; pooled over runs of the same series and case."""
    forced = catalog.resolve(chip) if chip else None
    chips: dict[str, Chip] = {}
    groups: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
    for e in items:
        if e.case.concurrency != 1:
            continue
        key = json.dumps(e.report.machine, sort_keys=True, default=str)
        if key not in chips:
            chips[key] = forced or machine_chip(e.report.machine, catalog)
        groups[(e.series, e.case.label, key)].append(e)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for (series, case, key), group in sorted(groups.items()):
        the_chip, first = chips[key], group[0]
        spec = model_spec(first.result, models)
        if spec is None:
            notes.append(f"{series} ({case}): model not in the catalog and no parameter count")
            continue
        runs = [r for e in group for r in e.ok_runs()]
        prompt = _mean([r.prompt_eval_count for r in runs if r.prompt_eval_count])
        gen = _mean([r.eval_count for r in runs if r.eval_count])
        pp = round(prompt) if prompt else first.case.prompt_tokens or 0
        tg = round(gen) if gen else first.case.max_tokens
        try:
            work = Workload(
                prompt_tokens=pp,
                gen_tokens=tg,
                images=first.case.images,
                memory_gb=_memory_gb(first.report.machine, the_chip),
            )
            predicted = estimate(the_chip, catalog, spec, work)
        except UsageError as err:
            notes.append(f"{series} ({case}): no prediction ({err.message})")
            continue
        bytes_per_token = spec.active_weight_bytes + spec.kv_bytes_per_token * (pp + tg / 2)
        flop_per_token = prefill_flops(spec, pp) / pp if pp else None
        tflops = the_chip.compute_tflops(catalog.family(the_chip).compute)
        for metric, word, pred, per_token, peak, unit in (
            ("decode_tps", "decode", predicted.decode_tps, bytes_per_token,
             the_chip.bw_gbs * GB, "memory bandwidth"),
            ("prefill_tps", "prefill", predicted.prefill_tps, flop_per_token,
             tflops * 1e12 if tflops else None, "compute"),
        ):  # fmt: skip
            measured = pool(s for e in group if (s := e.stat(metric)) is not None)
            if measured is None:
                continue
            row: dict[str, Any] = {
                "series": series,
                "case": case,
                "metric": word,
                "chip": the_chip.name,
                "ceiling": unit,
                "measured": round(measured.mean, 2),
                "sd": round(measured.sd, 2),
                "n": measured.n,
                "predicted": None if math.isnan(pred) else round(pred, 2),
            }
            if per_token and peak:
                row["measured_pct"] = round(measured.mean * per_token / peak * 100, 2)
                if row["predicted"] is not None:
                    row["predicted_pct"] = round(pred * per_token / peak * 100, 2)
            if row["predicted"]:
                row["vs_predicted_pct"] = round(measured.mean / pred * 100, 1)
            rows.append(row)
    return Ceilings(rows, _headlines(rows), notes)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def _headlines(rows: list[dict[str, Any]]) -> list[str]:
    """'decode reached 62 % of <chip>'s memory bandwidth' per chip and metric (the median)."""
    shares: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        if "measured_pct" in r:
            shares[(r["chip"], r["metric"], r["ceiling"])].append(r["measured_pct"])
    lines = []
    for (chip, metric, unit), xs in sorted(shares.items()):
        share, results = _median(xs), f"{len(xs)} result{'s' if len(xs) > 1 else ''}"
        if share > IMPOSSIBLE_PCT:
            # Beyond the chip's peak is not a speed: the server ran on other hardware than the
            # machine the report recorded (a remote --host), or the catalog chip is wrong.
            lines.append(
                f"{metric} measured {share:.0f} % of the peak {unit} of {chip} ({results}): "
                "more than this chip can do, so the server probably ran elsewhere; "
                "name its chip with --chip"
            )
        else:
            lines.append(f"{metric} reached {share:.0f} % of the peak {unit} of {chip} "
                         f"(median of {results})")  # fmt: skip
    return lines


#: Above this share of a chip's peak, the measurement can't have come from that chip (a margin
#: over 100 % for catalog peaks that are rounded or boost-clock figures).
IMPOSSIBLE_PCT = 110.0
