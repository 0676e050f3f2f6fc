"""Quality next to speed (``--suite quality``): each model's pass rate beside its decode speed.

The suite's tasks are checked strictly by ``llmbox.bench.scoring``; this module sums them up per
model, against the first model benchmarked: "qwen3:4b-q4_K_M (Q4_K_M) passed 94 % of 50 checks
at 1.7× the decode speed of qwen3:4b-q8_0 (96 %)".
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbox.bench.metrics import decode_tps
from llmbox.results import BenchReport


@dataclass(frozen=True)
class ModelQuality:
    model: str
    quantization: str
    checked: int  # scored answers (failed requests count as wrong)
    passed: int
    decode_tps: float | None  # mean over the answers long enough to have a rate
    by_type: dict[str, tuple[int, int]]  # task type -> (passed, checked)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.checked if self.checked else 0.0


def model_quality(report: BenchReport) -> list[ModelQuality]:
    """Per model, in the order benchmarked: checked answers, passes, decode speed."""
    out: dict[str, ModelQuality] = {}
    for model in dict.fromkeys(r.model for r in report.results):
        results = [r for r in report.results if r.model == model]
        runs = [s for r in results for s in r.runs if s.passed is not None]
        if not runs:
            continue
        rates = [x for s in runs if s.ok and (x := decode_tps(s)) is not None]
        by_type: dict[str, tuple[int, int]] = {}
        for s in runs:
            p, c = by_type.get(s.task_type or "", (0, 0))
            by_type[s.task_type or ""] = (p + bool(s.passed), c + 1)
        out[model] = ModelQuality(
            model=model,
            quantization=results[0].model_info.quantization,
            checked=len(runs),
            passed=sum(1 for s in runs if s.passed),
            decode_tps=sum(rates) / len(rates) if rates else None,
            by_type=by_type,
        )
    return list(out.values())


def quality_lines(report: BenchReport) -> list[str]:
    """One line per model; from the second model on, its speed relative to the first."""
    found = model_quality(report)
    lines = []
    for q in found:
        name = f"{q.model} ({q.quantization})" if q.quantization else q.model
        head = f"{name} passed {q.pass_rate:.0%} of {q.checked} checks"
        base = found[0]
        if q is base or q.decode_tps is None or not base.decode_tps:
            speed = f", {q.decode_tps:.1f} tok/s decode" if q.decode_tps else ""
            lines.append(head + speed)
            continue
        lines.append(
            f"{head} at {q.decode_tps / base.decode_tps:.2f}× the decode speed of "
            f"{base.model} ({base.pass_rate:.0%})"
        )
    return lines
