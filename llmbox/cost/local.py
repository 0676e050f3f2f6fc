"""The local side of the cost model: speed (and measured power) from a benchmark report or an
estimate, and the chip whose catalog entry gives board power and launch price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmbox.cost.model import Speed
from llmbox.errors import UsageError

if TYPE_CHECKING:
    from llmbox.hw.chips import Catalog, Chip
    from llmbox.hw.estimate import Estimate
    from llmbox.results import BenchReport, CaseResult


@dataclass(frozen=True)
class CaseSpeed:
    """One case's speed, and the power measured during it (when the report has it)."""

    label: str
    speed: Speed
    watts: float | None = None
    power_source: str | None = None


def case_speed(result: CaseResult) -> CaseSpeed | None:
    """Busy-time rates of one case; None when it has no successful generation.

    One request at a time: prompt tokens over prompt-processing time, generated tokens over
    generation time (the server's own durations). Concurrent batches: the batches' wall time is
    the busy time, shared between prompt and generation in the proportion of the requests' own
    durations; the aggregate rates are what batching earns.
    """
    runs = [r for r in result.runs if r.ok and r.eval_count > 0]
    if not runs:
        return None
    n = len(runs)
    tok_in = sum(r.prompt_eval_count for r in runs)
    tok_out = sum(r.eval_count for r in runs)
    thinking = sum(r.thinking_tokens for r in runs)
    pre_s = sum(r.prompt_eval_duration_ns for r in runs) / 1e9
    gen_s = sum(r.eval_duration_ns for r in runs) / 1e9
    concurrency = result.case.concurrency
    batches = [b for b in result.batches if b.failed == 0 and b.wall_s > 0]
    if concurrency > 1 and batches and gen_s > 0:
        wall = sum(b.wall_s for b in batches)
        share_in = pre_s / (pre_s + gen_s)
        pre_s, gen_s = wall * share_in, wall * (1 - share_in)
        detail = f"case '{result.case.label}', {concurrency} requests at once, batch wall time"
    else:
        concurrency = 1
        detail = f"case '{result.case.label}', one request at a time"
    if gen_s <= 0:
        return None
    speed = Speed(
        input_tps=tok_in / pre_s if pre_s > 0 and tok_in else None,
        output_tps=tok_out / gen_s,
        concurrency=concurrency,
        input_per_answer=tok_in / n,
        output_per_answer=tok_out / n,
        thinking_per_answer=thinking / n,
        origin="measured",
        detail=detail,
    )
    power = getattr(result, "power", None)  # recorded by `bench --power` (when it lands)
    watts = _field(power, "watts")
    return CaseSpeed(
        label=result.case.label,
        speed=speed,
        watts=float(watts) if isinstance(watts, (int, float)) and watts > 0 else None,
        power_source=str(_field(power, "source") or "measured") if watts else None,
    )


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def models_in(report: BenchReport) -> list[str]:
    return list(dict.fromkeys(r.model for r in report.results))


def best_case(report: BenchReport, model: str | None) -> tuple[str, CaseSpeed, list[CaseSpeed]]:
    """The model's case with the most output tokens per busy second, and all its cases."""
    names = models_in(report)
    if not names:
        raise UsageError("the report has no results", hint="run llmbox bench first")
    if model is None:
        if len(names) > 1:
            raise UsageError(
                f"the report has {len(names)} models: {', '.join(names)}",
                hint=f"pick one with --model, e.g. --model {names[0]}",
            )
        model = names[0]
    elif model not in names:
        raise UsageError(
            f"model {model!r} is not in the report", hint="models in it: " + ", ".join(names)
        )
    cases = [c for r in report.results if r.model == model if (c := case_speed(r)) is not None]
    if not cases:
        raise UsageError(
            f"no successful generation of {model} in the report",
            hint="a cost needs measured speed: rerun llmbox bench",
        )
    best = max(cases, key=lambda c: c.speed.output_tps)
    return model, best, cases


def report_chip(report: BenchReport, catalog: Catalog, name: str | None) -> Chip | None:
    """The chip a report was measured on: ``--chip``, else the machine block (Apple chip name,
    first NVIDIA GPU). None when the catalog does not know it."""
    if name:
        return catalog.resolve(name)
    machine = report.machine or {}
    candidates: Sequence[Any] = [
        machine.get("chip"),
        *(g.get("name") for g in machine.get("gpus") or [] if isinstance(g, dict)),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return catalog.resolve(str(candidate))
        except UsageError:
            continue
    return None


def estimate_speed(est: Estimate) -> Speed:
    """The estimator's single-request speed as the cost model's (no batching modelled)."""
    w = est.workload
    return Speed(
        input_tps=est.prefill_tps if est.prefill_tps == est.prefill_tps else None,
        output_tps=est.decode_tps,
        concurrency=1,
        input_per_answer=float(w.prompt_tokens),
        output_per_answer=float(w.gen_tokens),
        thinking_per_answer=0.0,
        origin="estimated",
        detail=f"hw-estimate: {est.model.name} on {est.chip.name}, {est.runner}, one request",
    )
