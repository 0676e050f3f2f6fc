"""Reverse questions: which models meet a speed target on a chip, which chips meet it for a model.

``--target decode_tps=20`` on a chip lists the catalog's models x quantizations that fit the
machine and meet every target, largest first; with ``--model`` instead, the catalog's chips
that would, cheapest first (launch price where the catalog has one, then the unpriced chips by
memory bandwidth, lowest first). Pure functions over the catalogs and :func:`estimate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog, Chip
from llmbox.hw.estimate import Estimate, Workload, estimate
from llmbox.hw.models import ModelCatalog, ModelSpec, with_quant
from llmbox.hw.quant import lookup

#: Metrics a target may name: True = at least (a rate), False = at most (a time).
METRICS = {
    "decode_tps": True,
    "prefill_tps": True,
    "ttft_s": False,
    "e2e_s": False,
}
#: Quantizations tried for each catalog model besides its own (the common GGUF ladder).
QUANT_LADDER = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")


@dataclass(frozen=True)
class Target:
    metric: str
    value: float

    @property
    def at_least(self) -> bool:
        return METRICS[self.metric]

    def met_by(self, est: Estimate) -> bool:
        got = float(getattr(est, self.metric))
        if not math.isfinite(got):
            return False
        return got >= self.value if self.at_least else got <= self.value

    def __str__(self) -> str:
        return f"{self.metric} {'>=' if self.at_least else '<='} {self.value:g}"


def parse_target(text: str) -> Target:
    """``decode_tps=20`` (also ``decode_tps>=20``, ``ttft_s<=2``)."""
    example = "e.g. --target decode_tps=20 (metrics: " + ", ".join(METRICS) + ")"
    name, sep, raw = text.replace(">=", "=").replace("<=", "=").partition("=")
    metric = name.strip().lower().replace("-", "_")
    if not sep or metric not in METRICS:
        raise UsageError(f"--target {text!r}: expected METRIC=VALUE", hint=example)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--target {text!r}: expected a positive number", hint=example)
    return Target(metric, value)


def _fitting(est: Estimate) -> bool:
    return est.memory.verdict == ("cpu" if est.chip.kind == "cpu" else "fits")


def _try(chip: Chip, catalog: Catalog, model: ModelSpec, workload: Workload) -> Estimate | None:
    """The estimate, or None where the combination cannot run (the runner does not run on the
    chip, the context is beyond the model's)."""
    try:
        return estimate(chip, catalog, model, workload)
    except UsageError:
        return None


def variants(models: ModelCatalog) -> list[ModelSpec]:
    """Every catalog model at its own quantization and at each of :data:`QUANT_LADDER` (a MoE
    whose experts have their own format keeps only its own)."""
    out: list[ModelSpec] = []
    for spec in models.models.values():
        out.append(spec)
        if spec.expert_quant:
            continue
        own = lookup(spec.quant).name
        for q in QUANT_LADDER:
            if q != own:
                out.append(with_quant(spec, q))
    return out


def models_meeting(
    chip: Chip,
    catalog: Catalog,
    models: ModelCatalog,
    workload: Workload,
    targets: list[Target],
) -> list[Estimate]:
    """Models x quantizations that fit ``chip`` (at ``--memory``, else its largest size) and
    meet every target: largest first, the more faithful quantization first among equals."""
    if workload.memory_gb is None and chip.memory_gb:
        workload = replace(workload, memory_gb=max(chip.memory_gb))
    found = []
    for spec in variants(models):
        est = _try(chip, catalog, spec, workload)
        if est is not None and _fitting(est) and all(t.met_by(est) for t in targets):
            found.append(est)
    return sorted(found, key=lambda e: (-e.model.params, -e.model.bits_per_weight, e.model.name))


def chips_meeting(
    model: ModelSpec, catalog: Catalog, workload: Workload, targets: list[Target]
) -> list[Estimate]:
    """Catalog chips on which ``model`` fits (the smallest memory size that holds it; with
    ``--memory``, only chips sold with that size) and meets every target: cheapest first by
    launch price, then the chips without a price by bandwidth, lowest first."""
    found = []
    for chip in catalog.chips.values():
        if workload.memory_gb is not None and workload.memory_gb not in chip.memory_gb:
            continue
        est = _try(chip, catalog, model, workload)
        if est is not None and _fitting(est) and all(t.met_by(est) for t in targets):
            found.append(est)

    def order(e: Estimate) -> tuple[int, float, str]:
        price = e.chip.launch_price_usd
        return (0, price, e.chip.id) if price is not None else (1, e.chip.bw_gbs, e.chip.id)

    return sorted(found, key=order)
