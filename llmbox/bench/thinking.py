"""The cost of thinking (``--suite reasoning``): thinking against answer tokens, per task type.

The suite runs the same queries with thinking off and on (or at levels: low, medium, high).
For each model, thinking setting and task type, ``thinking_costs`` gives the tokens per answer
(thinking, answer, prompt), the distribution of the thinking share, the seconds per answer, and —
against the same model and task type with thinking off — the extra seconds and extra output
tokens per answer. ``llmbox cost`` prices these rows (tokens × price per token); nothing here
knows a price. Without a think-off case (a model that cannot stop thinking, e.g. gpt-oss), the
extras count against its ``low`` level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from llmbox.bench.metrics import percentile
from llmbox.results import BenchReport, RunSample, Think


@dataclass(frozen=True)
class ThinkingCost:
    """One model × thinking setting × task type (``task_type`` "all": every type together)."""

    model: str
    think: str  # "off", "on", "default" (not set), or a level: "low", "medium", "high"
    task_type: str
    answers: int  # successful requests
    prompt_tokens: float  # means per answer
    thinking_tokens: float
    answer_tokens: float
    e2e_s: float
    thinking_share_p10: float  # thinking tokens / all generated tokens, over the answers
    thinking_share_p50: float
    thinking_share_p90: float
    pass_rate: float | None  # checked answers that passed (None: nothing checked)
    extra_seconds: float | None  # e2e_s minus the same model and type with thinking off
    extra_output_tokens: float | None  # (thinking + answer) minus the same with thinking off
    baseline: str | None = None  # what the extras count against: "off", else "low"

    @property
    def output_tokens(self) -> float:
        return self.thinking_tokens + self.answer_tokens


def think_name(think: Think) -> str:
    if think is True:
        return "on"
    if think is False:
        return "off"
    return "default" if think is None else str(think)


def _row(model: str, think: str, task_type: str, runs: Sequence[RunSample]) -> ThinkingCost:
    n = len(runs)
    shares = sorted(r.thinking_tokens / r.eval_count if r.eval_count else 0.0 for r in runs)
    checked = [r for r in runs if r.passed is not None]
    return ThinkingCost(
        model=model,
        think=think,
        task_type=task_type,
        answers=n,
        prompt_tokens=sum(r.prompt_eval_count for r in runs) / n,
        thinking_tokens=sum(r.thinking_tokens for r in runs) / n,
        answer_tokens=sum(r.eval_count - r.thinking_tokens for r in runs) / n,
        e2e_s=sum(r.e2e_s or 0.0 for r in runs) / n,
        thinking_share_p10=percentile(shares, 10),
        thinking_share_p50=percentile(shares, 50),
        thinking_share_p90=percentile(shares, 90),
        pass_rate=sum(1 for r in checked if r.passed) / len(checked) if checked else None,
        extra_seconds=None,
        extra_output_tokens=None,
    )


def thinking_costs(report: BenchReport) -> list[ThinkingCost]:
    """Rows for every (model, thinking setting, task type) of the report's typed samples."""
    groups: dict[tuple[str, str, str], list[RunSample]] = {}
    for r in report.results:
        think = think_name(r.case.think)
        for s in r.runs:
            if s.ok and s.task_type:
                groups.setdefault((r.model, think, s.task_type), []).append(s)
                groups.setdefault((r.model, think, "all"), []).append(s)
    rows = {key: _row(*key, runs) for key, runs in groups.items()}
    out = []
    for (model, _, task_type), row in rows.items():
        base = rows.get((model, "off", task_type)) or rows.get((model, "low", task_type))
        if base is not None and base is not row:
            row = replace(
                row,
                extra_seconds=row.e2e_s - base.e2e_s,
                extra_output_tokens=row.output_tokens - base.output_tokens,
                baseline=base.think,
            )
        out.append(row)
    return out


def thinking_lines(report: BenchReport) -> list[str]:
    """Per model and thinking setting (off excluded): one line per task type."""
    rows = [r for r in thinking_costs(report) if r.think != "off"]
    if not any(r.thinking_tokens for r in rows):
        return []
    lines = []
    for r in rows:
        extra = ""
        if r.extra_seconds is not None:
            extra = (
                f"; {r.extra_seconds:+.2f} s and {r.extra_output_tokens or 0:+,.0f} tokens "
                f"per answer vs {r.baseline}"
            )
        lines.append(
            f"{r.model} think={r.think} {r.task_type}: {r.thinking_tokens:,.0f} thinking + "
            f"{r.answer_tokens:,.0f} answer tokens per answer, thinking share p50 "
            f"{r.thinking_share_p50:.0%} (p10 {r.thinking_share_p10:.0%}, p90 "
            f"{r.thinking_share_p90:.0%}){extra}"
        )
    return lines
