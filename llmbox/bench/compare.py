"""Comparisons over benchmark report dicts (``BenchReport.to_dict()`` or a loaded JSON file).

- ``verdicts(report)``: hyperfine-style lines comparing the models of one report, per case.
- ``compare_reports(base, new)``: one row per (model, case, metric) of two reports, with the ratio,
  the change and, given a threshold, whether it is a regression (direction aware).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llmbox.bench._text import plain_table
from llmbox.bench.fields import METRICS, fmt_value
from llmbox.bench.metrics import ratio_with_error

#: (metric, word) pairs the verdict lines compare, in this order.
VERDICT_METRICS = (("decode_tps", "decode"), ("prefill_tps", "prefill"))

#: Metrics ``compare_reports`` compares (each only when present in either report).
COMPARE_METRICS = (
    "prefill_tps",
    "decode_tps",
    "answer_tps",
    "ttft_s",
    "ttft_answer_s",
    "e2e_s",
    "load_s",
    "aggregate_tps",
)

#: A time metric must also get worse by more than this many seconds to count as a regression,
#: so a warm ``load_s`` going from 4 ms to 9 ms (+125 %) does not fail a build.
MIN_TIME_DELTA_S = 0.010

Summary = Mapping[str, Mapping[str, float]]


def _results(report: Mapping[str, Any]) -> Iterator[tuple[str, str, Summary]]:
    for result in report.get("results") or []:
        yield (
            str(result.get("model", "")),
            str(result["case"]["label"]),
            result.get("summary") or {},
        )


def verdicts(report: Mapping[str, Any]) -> list[str]:
    """For each case run on two or more models: how much faster the fastest model was than each
    other one, at decode and at prefill (ratio of means ± first-order error, as hyperfine does).

    Models without the metric (all runs failed) are left out; a ratio that rounds to 1.00 reads
    "as fast as".
    """
    by_case: dict[str, dict[str, Summary]] = {}
    for model, label, summary in _results(report):
        by_case.setdefault(label, {}).setdefault(model, summary)
    lines = []
    for label, models in by_case.items():
        for metric, word in VERDICT_METRICS:
            ranked = [
                (model, s[metric])
                for model, s in models.items()
                if s.get(metric, {}).get("mean", 0) > 0
            ]
            if len(ranked) < 2:
                continue
            ranked.sort(key=lambda entry: -entry[1]["mean"])
            best_model, best = ranked[0]
            for model, other in ranked[1:]:
                ratio, err = ratio_with_error(
                    best["mean"], best.get("sd", 0.0), other["mean"], other.get("sd", 0.0)
                )
                how = "as fast as" if f"{ratio:.2f}" == "1.00" else "faster than"
                lines.append(
                    f"{best_model} ran {ratio:.2f} ± {err:.2f}× {how} {model} at {word} ({label})"
                )
    return lines


@dataclass(frozen=True)
class CompareRow:
    """One metric of one (model, case) in a base and a new report.

    ``ratio`` is new/base; ``change_pct`` is (new − base)/base in percent; ``worse_pct`` is the
    change in the bad direction (positive: worse). ``status`` is one of ``better``, ``worse``,
    ``same``, ``regression`` (worse by more than the threshold), ``missing`` (measured in base
    only; a regression when a threshold is given) or ``new`` (measured in new only).
    """

    model: str
    case: str
    metric: str
    base_mean: float | None
    base_sd: float | None
    new_mean: float | None
    new_sd: float | None
    ratio: float | None
    ratio_error: float | None
    change_pct: float | None
    worse_pct: float | None
    threshold_pct: float | None
    regression: bool
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(
    model: str,
    case: str,
    metric: str,
    base: Mapping[str, float] | None,
    new: Mapping[str, float] | None,
    threshold: float | None,
) -> CompareRow:
    higher = METRICS[metric].higher_is_better
    b_mean = base.get("mean") if base else None
    n_mean = new.get("mean") if new else None
    b_sd = base.get("sd", 0.0) if base else None
    n_sd = new.get("sd", 0.0) if new else None
    threshold_pct = None if threshold is None else threshold * 100
    ratio = err = change = worse = None
    regression = False
    if b_mean is None or n_mean is None:
        status = "missing" if n_mean is None else "new"
        regression = threshold is not None and status == "missing"
        return CompareRow(
            model, case, metric, b_mean, b_sd, n_mean, n_sd, None, None, None, None,
            threshold_pct, regression, "regression" if regression else status,
        )  # fmt: skip
    delta = n_mean - b_mean
    if b_mean != 0:
        ratio, err = ratio_with_error(n_mean, n_sd or 0.0, b_mean, b_sd or 0.0)
        change = delta / b_mean * 100
        worse = (-change if higher else change) + 0.0  # never -0.0
    bad = (delta < 0) if higher else (delta > 0)
    if threshold is not None and bad:
        beyond_floor = not METRICS[metric].is_time or abs(delta) > MIN_TIME_DELTA_S
        over = worse is None or worse > threshold * 100
        regression = beyond_floor and over
    if regression:
        status = "regression"
    elif delta == 0:
        status = "same"
    else:
        status = "worse" if bad else "better"
    return CompareRow(
        model, case, metric, b_mean, b_sd, n_mean, n_sd, ratio, err, change, worse,
        threshold_pct, regression, status,
    )  # fmt: skip


def compare_reports(
    base: Mapping[str, Any], new: Mapping[str, Any], *, threshold: float | None = None
) -> list[CompareRow]:
    """Match results by (model, case label) and compare each metric's mean.

    ``threshold`` is a fraction (0.10 for 10 %): a metric that got worse by more than that is a
    regression, in the metric's own direction (higher is better for ``*_tps``, lower for times).
    Results only in ``new`` are compared as ``new``; results only in ``base`` as ``missing``.
    Order: ``new``'s results first, then those only in ``base``.
    """
    base_by_key = {(m, c): s for m, c, s in _results(base)}
    new_by_key = {(m, c): s for m, c, s in _results(new)}
    keys = list(new_by_key) + [k for k in base_by_key if k not in new_by_key]
    rows = []
    for key in keys:
        b, n = base_by_key.get(key, {}), new_by_key.get(key, {})
        for metric in COMPARE_METRICS:
            if metric in b or metric in n:
                rows.append(_row(key[0], key[1], metric, b.get(metric), n.get(metric), threshold))
    return rows


def _fmt_opt(metric: str, value: float | None) -> str:
    return "-" if value is None else fmt_value(metric, value)


def render_comparison(rows: Sequence[CompareRow]) -> str:
    """A plain-text table of ``compare_reports`` rows (base → new, ratio, change, status)."""
    if not rows:
        return "nothing to compare: no (model, case) in common\n"
    table = []
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f} ± {r.ratio_error or 0.0:.2f}×"
        change = "-" if r.change_pct is None else f"{r.change_pct:+.1f}%"
        table.append(
            [r.model, r.case, r.metric, _fmt_opt(r.metric, r.base_mean),
             _fmt_opt(r.metric, r.new_mean), ratio, change, r.status]
        )  # fmt: skip
    text = plain_table(
        ["model", "case", "metric", "base", "new", "new/base", "change", "status"],
        table,
        right=[3, 4, 5, 6],
    )
    threshold = next((r.threshold_pct for r in rows if r.threshold_pct is not None), None)
    if threshold is not None:
        failed = sum(r.regression for r in rows)
        text += f"\n{failed} regression(s) beyond {threshold:g}%\n"
    return text


def comparison_to_dict(rows: Sequence[CompareRow]) -> dict[str, Any]:
    """A JSON-able form: the rows and how many regressed."""
    return {
        "rows": [r.to_dict() for r in rows],
        "regressions": sum(r.regression for r in rows),
    }
