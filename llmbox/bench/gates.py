"""CI gates over a report: thresholds (``--fail-under``/``--fail-over``) and regressions
against a baseline report (``--baseline FILE --max-regression 10%``).

A gate never passes by default: a metric that a result did not measure fails its gate with
"not measured", and gates given for a report with no results fail too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llmbox.bench._text import plain_table
from llmbox.bench.compare import compare_reports
from llmbox.bench.fields import METRICS, PERCENTILE_MIN_SAMPLES, STATS, fmt_value
from llmbox.errors import UsageError
from llmbox.results import BenchReport, CaseResult, GateResult, Stat

GateKind = Literal["under", "over"]
ResultKind = Literal["under", "over", "regression"]

_HINT = (
    "e.g. --fail-under decode_tps=20 or --fail-over ttft_s:p90=1.5; "
    f"metrics: {', '.join(METRICS)}; statistics: {', '.join(STATS)} (default mean)"
)


@dataclass(frozen=True)
class Gate:
    """``metric:stat`` must stay above (``under``: fail if lower) or below (``over``) ``limit``."""

    metric: str
    stat: str
    limit: float
    kind: GateKind

    @property
    def spec(self) -> str:
        stat = "" if self.stat == "mean" else f":{self.stat}"
        return f"--fail-{self.kind} {self.metric}{stat}={self.limit:g}"


def parse_gate(spec: str, kind: str) -> Gate:
    """``decode_tps=20`` or ``ttft_s:p90=2`` into a Gate; a UsageError naming what is valid.

    >>> parse_gate("ttft_s:p90=1.5", "over")
    Gate(metric='ttft_s', stat='p90', limit=1.5, kind='over')
    """
    if kind not in ("under", "over"):
        raise ValueError(f"gate kind must be 'under' or 'over', not {kind!r}")
    option = f"--fail-{kind}"
    name, sep, raw = spec.partition("=")
    metric, _, stat = name.strip().partition(":")
    metric, stat = metric.strip(), stat.strip() or "mean"
    if not sep or not metric:
        raise UsageError(f"{option} {spec!r}: expected METRIC=VALUE", hint=_HINT)
    if metric not in METRICS:
        raise UsageError(f"{option} {spec!r}: unknown metric {metric!r}", hint=_HINT)
    if stat not in STATS:
        raise UsageError(f"{option} {spec!r}: unknown statistic {stat!r}", hint=_HINT)
    try:
        limit = float(raw)
    except ValueError:
        raise UsageError(
            f"{option} {spec!r}: {raw.strip()!r} is not a number", hint=_HINT
        ) from None
    if not math.isfinite(limit):
        raise UsageError(f"{option} {spec!r}: the limit must be a finite number", hint=_HINT)
    return Gate(metric=metric, stat=stat, limit=limit, kind="under" if kind == "under" else "over")


def parse_regression(spec: str) -> float:
    """``"10%"`` (or ``"10"``: always percent) into the fraction 0.10.

    >>> parse_regression("10%"), parse_regression("2.5")
    (0.1, 0.025)
    """
    text = spec.strip().removesuffix("%").strip()
    try:
        pct = float(text)
    except ValueError:
        pct = math.nan
    if not math.isfinite(pct) or pct < 0:
        raise UsageError(
            f"--max-regression {spec!r}: expected a percentage such as 10%",
            hint="--max-regression 10% fails when a metric is more than 10% worse than --baseline",
        )
    return pct / 100


def _missing_message(metric: str, stat: str, result: CaseResult) -> str:
    summary = result.summary
    if metric in summary and stat in PERCENTILE_MIN_SAMPLES:
        n = int(summary[metric].n)
        return f"{metric} {stat} not measured (needs {PERCENTILE_MIN_SAMPLES[stat]} runs, had {n})"
    if metric == "prefill_tps" and any(w.code == "cached_prompt" for w in result.warnings):
        return "prefill_tps not measured: the prompts were served from the server's cache"
    return f"{metric} not measured"


def _gate_result(
    model: str, case: str, gate: Gate, value: float | None, passed: bool, message: str
) -> GateResult:
    return GateResult(
        model=model,
        case=case,
        metric=gate.metric,
        stat=gate.stat,
        value=value,
        limit=gate.limit,
        kind=gate.kind,
        passed=passed,
        message=message,
    )


def _check(result: CaseResult, gate: Gate) -> GateResult:
    model, case = result.model, result.case.label
    stat: Stat | None = result.summary.get(gate.metric)
    value = stat.get(gate.stat) if stat is not None else None
    n = stat.n if stat is not None else 0
    if value is not None and n < PERCENTILE_MIN_SAMPLES.get(gate.stat, 0):
        value = None  # an interpolated tail from too few samples is not a gate's evidence
    if value is None:
        message = _missing_message(gate.metric, gate.stat, result)
        return _gate_result(model, case, gate, None, False, message)
    passed = value >= gate.limit if gate.kind == "under" else value <= gate.limit
    op = (">=" if passed else "<") if gate.kind == "under" else ("<=" if passed else ">")
    shown = fmt_value(gate.metric, value)
    limit = fmt_value(gate.metric, gate.limit)
    message = f"{gate.metric} {gate.stat} {shown} {op} {limit}"
    return _gate_result(model, case, gate, value, passed, message)


def _regressions(
    report: BenchReport, baseline: BenchReport, max_regression: float
) -> list[GateResult]:
    out = []
    for row in compare_reports(baseline, report, threshold=max_regression):
        if row.status == "new":
            continue  # nothing to compare with
        limit = max_regression * 100
        if row.base_mean is None or row.new_mean is None:
            message = f"{row.metric} measured in the baseline but not in this run"
        else:
            change = "" if row.change_pct is None else f" ({row.change_pct:+.1f}%)"
            p = "" if row.p_value is None else f", p={row.p_value:.3f}"
            message = (
                f"{row.metric} {fmt_value(row.metric, row.base_mean)} → "
                f"{fmt_value(row.metric, row.new_mean)}{change}{p}, limit {limit:g}% worse"
            )
        out.append(
            GateResult(
                model=row.model,
                case=row.case,
                metric=row.metric,
                stat="mean",
                value=row.worse_pct,
                limit=limit,
                kind="regression",
                passed=not row.regression,
                message=message,
            )
        )
    return out


def evaluate(
    report: BenchReport,
    *,
    fail_under: Sequence[Gate] = (),
    fail_over: Sequence[Gate] = (),
    baseline: BenchReport | None = None,
    max_regression: float | None = None,
) -> list[GateResult]:
    """Every gate against every result (passed ones included, so the report records what was
    checked). With a baseline and ``max_regression``, each metric of each (model, case) in the
    baseline is compared with this report (see ``llmbox.bench.compare.compare_reports``)."""
    gates = [*fail_under, *fail_over]
    out: list[GateResult] = []
    for result in report.results:
        out += [_check(result, gate) for gate in gates]
    if not report.results:
        out += [_gate_result("", "", g, None, False, "no results to check") for g in gates]
    if baseline is not None and max_regression is not None:
        out += _regressions(report, baseline, max_regression)
    return out


def render_gate_failures(results: Sequence[GateResult]) -> str:
    """A plain-text table of the gates that failed."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return "all gates passed\n"
    rows = [
        [r.model or "-", r.case or "-", f"fail-{r.kind}" if r.kind != "regression" else r.kind,
         r.message]
        for r in failed
    ]  # fmt: skip
    return plain_table(["model", "case", "gate", "result"], rows)
