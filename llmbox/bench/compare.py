"""Comparisons over benchmark reports.

- ``verdicts(report)``: hyperfine-style lines comparing the models of one report, per case —
  "faster" only when Welch's t-test says the difference is significant.
- ``measured_pairs(report)``: the (model, case) pairs a report measured, which two reports must
  share to be compared.
- ``compare_reports(base, new)``: one row per (model, case, metric) of two reports, with the ratio,
  the change, its significance and, given a threshold, whether it is a regression (direction
  aware, and significant).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from llmbox.bench.fields import METRICS
from llmbox.bench.metrics import ratio_with_error
from llmbox.bench.significance import welch_p
from llmbox.defaults import ALPHA
from llmbox.results import BenchReport, Stat

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
    "requests_per_s",
)

#: A time metric must also get worse by more than this many seconds to count as a regression,
#: so a warm ``load_s`` going from 4 ms to 9 ms (+125 %) does not fail a build.
MIN_TIME_DELTA_S = 0.010

Summary = dict[str, Stat]


def _results(report: BenchReport) -> Iterator[tuple[str, str, Summary]]:
    for result in report.results:
        yield result.model, result.case.label, result.summary


def measured_pairs(report: BenchReport) -> list[tuple[str, str]]:
    """The (model, case label) pairs a report measured, in its order, each once."""
    return list(dict.fromkeys((m, c) for m, c, _ in _results(report)))


def p_value(a: Stat, b: Stat) -> float | None:
    """Welch's p for two summaries; None when either has fewer than two samples."""
    return welch_p(a.mean, a.sd, a.n, b.mean, b.sd, b.n)


def verdicts(report: BenchReport) -> list[str]:
    """For each case run on two or more models: how much faster the fastest model was than each
    other one, at decode and at prefill (ratio of means ± first-order error, as hyperfine does),
    when the difference is significant (Welch's t-test, p < ALPHA); otherwise "no significant
    difference". Models without the metric (all runs failed) are left out.
    """
    by_case: dict[str, dict[str, Summary]] = {}
    for model, label, summary in _results(report):
        by_case.setdefault(label, {}).setdefault(model, summary)
    lines = []
    for label, models in by_case.items():
        for metric, word in VERDICT_METRICS:
            ranked = [(model, s[metric]) for model, s in models.items() if metric in s]
            ranked = [(m, st) for m, st in ranked if st.mean > 0]
            if len(ranked) < 2:
                continue
            ranked.sort(key=lambda entry: -entry[1].mean)
            best_model, best = ranked[0]
            for model, other in ranked[1:]:
                p = p_value(best, other)
                if p is not None and p >= ALPHA:
                    lines.append(
                        f"{best_model} and {model}: no significant difference at {word} "
                        f"({label}, p={p:.2f})"
                    )
                    continue
                ratio, err = ratio_with_error(best.mean, best.sd, other.mean, other.sd)
                how = "as fast as" if f"{ratio:.2f}" == "1.00" else "faster than"
                tail = "" if p is not None else ", too few runs to test significance"
                lines.append(
                    f"{best_model} ran {ratio:.2f} ± {err:.2f}× {how} {model} at {word} "
                    f"({label}{tail})"
                )
    return lines


@dataclass(frozen=True)
class CompareRow:
    """One metric of one (model, case) in a base and a new report.

    ``ratio`` is new/base; ``change_pct`` is (new − base)/base in percent; ``worse_pct`` is the
    change in the bad direction (positive: worse). ``status`` is one of ``better``, ``worse``,
    ``same`` (no significant difference: Welch's p ≥ ALPHA), ``regression`` (significantly worse
    by more than the threshold), ``missing`` (measured in base only; a regression when a
    threshold is given) or ``new`` (measured in new only). ``p_value`` is None when either side
    has fewer than two runs; then any difference counts.
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
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(
    model: str,
    case: str,
    metric: str,
    base: Stat | None,
    new: Stat | None,
    threshold: float | None,
) -> CompareRow:
    higher = METRICS[metric].higher_is_better
    b_mean = base.mean if base else None
    n_mean = new.mean if new else None
    b_sd = base.sd if base else None
    n_sd = new.sd if new else None
    threshold_pct = None if threshold is None else threshold * 100
    ratio = err = change = worse = None
    regression = False
    if base is None or new is None:
        status = "missing" if new is None else "new"
        regression = threshold is not None and status == "missing"
        return CompareRow(
            model, case, metric, b_mean, b_sd, n_mean, n_sd, None, None, None, None,
            threshold_pct, regression, "regression" if regression else status,
        )  # fmt: skip
    delta = new.mean - base.mean
    if base.mean != 0:
        ratio, err = ratio_with_error(new.mean, new.sd, base.mean, base.sd)
        change = delta / base.mean * 100
        worse = (-change if higher else change) + 0.0  # never -0.0
    p = p_value(base, new)
    significant = delta != 0 and (p is None or p < ALPHA)
    bad = (delta < 0) if higher else (delta > 0)
    if threshold is not None and bad and significant:
        beyond_floor = not METRICS[metric].is_time or abs(delta) > MIN_TIME_DELTA_S
        over = worse is None or worse > threshold * 100
        regression = beyond_floor and over
    if regression:
        status = "regression"
    elif not significant:
        status = "same"
    else:
        status = "worse" if bad else "better"
    return CompareRow(
        model, case, metric, b_mean, b_sd, n_mean, n_sd, ratio, err, change, worse,
        threshold_pct, regression, status, p,
    )  # fmt: skip


def compare_reports(
    base: BenchReport, new: BenchReport, *, threshold: float | None = None
) -> list[CompareRow]:
    """Match results by (model, case label) and compare each metric's mean.

    ``threshold`` is a fraction (0.10 for 10 %): a metric that got significantly worse by more
    than that is a regression, in the metric's own direction (higher is better for ``*_tps``,
    lower for times). Results only in ``new`` are compared as ``new``; results only in ``base``
    as ``missing``. Order: ``new``'s results first, then those only in ``base``.
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
