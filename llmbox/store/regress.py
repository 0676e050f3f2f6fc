"""Regressions found, not eyeballed: change points in each series of stored runs.

A *series* is one metric of one model × case label × machine × backend, in the order the runs
were started. Its change points are found in two steps:

1. **Step detection** (binary segmentation over the run means): the split that most reduces the
   sum of squared deviations of the run means from their segment's mean is a candidate; each
   side is then searched the same way.
2. **Confirmation**: a candidate stands only if Welch's t-test on the per-request values before
   and after it (every successful request of every run in the two segments, pooled exactly from
   each run's stored count, mean and sd) gives p < ``alpha``
   *and* the segment means differ by at least ``min_effect`` (relative; time metrics also by more
   than ``MIN_TIME_DELTA_S``). Change points are re-checked against their final neighbouring
   segments until every one stands.

A change in the bad direction (lower tokens/s, longer times) is a *regression*; it is *open* while
the latest segment is still worse than the level before the change by ``min_effect``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from llmbox.bench.compare import MIN_TIME_DELTA_S
from llmbox.bench.fields import METRICS
from llmbox.bench.significance import welch_p
from llmbox.errors import UsageError

if TYPE_CHECKING:
    from llmbox.store._query import RunFilter
    from llmbox.store._store import Store

#: Metrics checked unless asked otherwise.
DEFAULT_METRICS = ("decode_tps", "prefill_tps", "ttft_s")
#: Significance level of the Welch test.
DEFAULT_ALPHA = 0.01
#: Smallest relative change of the mean that counts (0.05: 5 %).
DEFAULT_MIN_EFFECT = 0.05


# -- statistics -----------------------------------------------------------------------------------


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    mean = math.fsum(xs) / len(xs)
    var = math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
    return mean, math.sqrt(var)


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test that ``a`` and ``b`` have the same mean
    (``llmbox.bench.significance``); None when either side has fewer than 2 values.

    >>> round(welch([19.8, 20.4, 19.6, 17.1, 21.3], [28.2, 26.6, 20.1, 23.3, 25.2]), 4)
    0.0187
    """
    if len(a) < 2 or len(b) < 2:
        return None
    return welch_p(*_mean_sd(a), len(a), *_mean_sd(b), len(b))


# -- change points --------------------------------------------------------------------------------


class RunValues(NamedTuple):
    """One run's place in a series: the count, mean and sample sd of its per-request values
    (its stored summary: what the Welch test needs of them, exactly)."""

    run_id: int
    started_at: str
    mean: float
    n: int = 1
    sd: float = 0.0
    server_version: str | None = None

    @classmethod
    def of(
        cls, run_id: int, started_at: str, values: Sequence[float], server: str | None = None
    ) -> RunValues:
        """A run from its per-request values.

        >>> RunValues.of(7, "2026-11-30", [10.0, 12.0, 14.0])
        RunValues(run_id=7, started_at='2026-11-30', mean=12.0, n=3, sd=2.0, server_version=None)
        """
        mean, sd = _mean_sd(values)
        return cls(run_id, started_at, mean, len(values), sd, server)


@dataclass(frozen=True)
class Verdict:
    p_value: float
    change: float  # relative: (after - before) / |before|
    before: float
    after: float


class _Series:
    """Prefix sums over a series' runs, so any two adjacent segments are compared in O(1):
    the mean of run means per segment, and the pooled per-request count, mean and variance."""

    def __init__(self, runs: Sequence[RunValues]) -> None:
        self.runs = runs
        shift = runs[0].mean if runs else 0.0  # values are summed relative to it (less rounding)
        self.shift = shift
        self.means = [r.mean for r in runs]
        # A run's values, from its count, mean and sd: their sum is n * mean, and their squared
        # deviations from the shift (n - 1) * sd^2 + n * (mean - shift)^2.
        counts = [max(r.n, 1) for r in runs]
        devs = [r.mean - shift for r in runs]
        self.pm = [0.0, *accumulate(self.means)]
        self.pn = [0, *accumulate(counts)]
        self.ps = [0.0, *accumulate(n * d for n, d in zip(counts, devs, strict=True))]
        squares = (
            (n - 1) * r.sd * r.sd + n * d * d for r, n, d in zip(runs, counts, devs, strict=True)
        )
        self.pq = [0.0, *accumulate(squares)]

    def mean_of_means(self, i: int, j: int) -> float:
        return (self.pm[j] - self.pm[i]) / (j - i)

    def pooled(self, i: int, j: int) -> tuple[float, float, int]:
        """Mean, sample sd and count of every per-request value of runs [i, j)."""
        n = self.pn[j] - self.pn[i]
        s, q = self.ps[j] - self.ps[i], self.pq[j] - self.pq[i]
        var = max(0.0, (q - s * s / n) / (n - 1)) if n > 1 else 0.0
        return s / n + self.shift, math.sqrt(var), n

    def confirm(
        self, i: int, k: int, j: int, *, metric: str, alpha: float, min_effect: float
    ) -> Verdict | None:
        """The verdict for a change between runs [i, k) and [k, j), or None if it does not
        stand (see the module docstring)."""
        b_mean, a_mean = self.mean_of_means(i, k), self.mean_of_means(k, j)
        if b_mean == 0:
            return None
        change = (a_mean - b_mean) / abs(b_mean)
        if abs(change) < min_effect:
            return None
        spec = METRICS.get(metric)
        if spec is not None and spec.is_time and abs(a_mean - b_mean) <= MIN_TIME_DELTA_S:
            return None
        before, after = self.pooled(i, k), self.pooled(k, j)
        if before[2] < 2 or after[2] < 2:
            return None
        p = welch_p(*before, *after)
        if p is None or p >= alpha:
            return None
        return Verdict(p, change, b_mean, a_mean)

    def best_split(self, lo: int, hi: int) -> int:
        """The k in (lo, hi) minimising the squared deviations of the run means of [lo, k) and
        [k, hi) from their own means."""
        devs = [x - self.shift for x in self.means[lo:hi]]
        prefix, squares = [0.0, *accumulate(devs)], [0.0, *accumulate(d * d for d in devs)]
        n = hi - lo
        total, total_sq = prefix[n], squares[n]
        best, best_cost = lo + 1, math.inf
        for k in range(1, n):
            s, q = prefix[k], squares[k]  # [lo, lo + k) and the rest: each one's squared deviations
            cost = (q - s * s / k) + (total_sq - q - (total - s) ** 2 / (n - k))
            if cost < best_cost - 1e-12 * (abs(cost) + 1.0):
                best, best_cost = lo + k, cost
        return best


def change_points(
    runs: Sequence[RunValues],
    *,
    metric: str,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> list[int]:
    """Indexes into ``runs`` where a new level starts (see the module docstring)."""
    series = _Series(runs)
    found: list[int] = []
    pending = [(0, len(runs))]
    while pending:  # binary segmentation, without recursion (a series can be long)
        lo, hi = pending.pop()
        if hi - lo < 2:
            continue
        k = series.best_split(lo, hi)
        if series.confirm(lo, k, hi, metric=metric, alpha=alpha, min_effect=min_effect):
            found.append(k)
            pending += [(lo, k), (k, hi)]
    bounds = sorted(found)
    while True:  # every change must stand against its final neighbours
        edges = [0, *bounds, len(runs)]
        kept = [
            edges[i]
            for i in range(1, len(edges) - 1)
            if series.confirm(
                edges[i - 1], edges[i], edges[i + 1], metric=metric, alpha=alpha,
                min_effect=min_effect,
            )
        ]  # fmt: skip
        if kept == bounds:
            return bounds
        bounds = kept


@dataclass(frozen=True)
class ChangePoint:
    """A confirmed change in one series: between run ``before_run`` and run ``after_run``."""

    model: str
    case: str
    machine: str
    backend: str
    metric: str
    kind: str  # "regression" | "improvement"
    open: bool  # the latest runs are still at (or beyond) the changed level
    at: str  # started_at of the first run at the new level
    before_run: int
    after_run: int
    before_mean: float
    after_mean: float
    change_pct: float
    p_value: float
    runs_before: int
    runs_after: int
    server_before: str | None
    server_after: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def analyse_series(
    key: tuple[str, str, str, str],
    metric: str,
    runs: Sequence[RunValues],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> list[ChangePoint]:
    """The change points of one series (``key`` = model, case, machine, backend)."""
    bounds = change_points(runs, metric=metric, alpha=alpha, min_effect=min_effect)
    if not bounds:
        return []
    series = _Series(runs)
    higher = METRICS[metric].higher_is_better if metric in METRICS else True
    edges = [0, *bounds, len(runs)]
    latest = series.mean_of_means(edges[-2], edges[-1])
    out = []
    for i in range(1, len(edges) - 1):
        before, after = runs[edges[i - 1] : edges[i]], runs[edges[i] : edges[i + 1]]
        verdict = series.confirm(
            edges[i - 1], edges[i], edges[i + 1], metric=metric, alpha=alpha,
            min_effect=min_effect,
        )  # fmt: skip
        assert verdict is not None
        worse = verdict.change < 0 if higher else verdict.change > 0
        still = (latest - verdict.before) / abs(verdict.before)
        holds = (
            (still <= -min_effect if higher else still >= min_effect)
            if worse
            else (still >= min_effect if higher else still <= -min_effect)
        )
        out.append(
            ChangePoint(
                *key,
                metric=metric,
                kind="regression" if worse else "improvement",
                open=holds,
                at=after[0].started_at,
                before_run=before[-1].run_id,
                after_run=after[0].run_id,
                before_mean=verdict.before,
                after_mean=verdict.after,
                change_pct=verdict.change * 100,
                p_value=verdict.p_value,
                runs_before=len(before),
                runs_after=len(after),
                server_before=before[-1].server_version,
                server_after=after[0].server_version,
            )
        )
    return out


def check_thresholds(alpha: float, min_effect: float) -> None:
    """A usage error for a significance level or minimum effect that cannot mean anything (nan,
    or infinite: no change could ever count, and the answer would be "none", silently)."""
    if not (0 < alpha <= 0.5):  # also nan
        raise UsageError(
            f"--alpha must be above 0 and at most 0.5, not {alpha:g}",
            hint="e.g. --alpha 0.01 (a 1 % chance of calling noise a change)",
        )
    if not (0 <= min_effect < math.inf):
        raise UsageError(
            f"--min-effect must be a finite percentage ≥ 0, not {min_effect * 100:g}",
            hint="e.g. --min-effect 5 (a change of the mean by 5 %)",
        )


def find_regressions(
    store: Store,
    flt: RunFilter | None = None,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> list[ChangePoint]:
    """Every change point of every series in ``store`` matching ``flt``, newest first."""
    check_thresholds(alpha, min_effect)
    series: dict[tuple[tuple[str, str, str, str], str], list[RunValues]] = {}
    for row in store.run_stats(flt, metrics):
        if row.mean is None:
            continue
        series.setdefault((row.series, row.metric), []).append(
            RunValues(row.run_id, row.started_at, row.mean, int(row.n or 1), row.sd or 0.0,
                      row.server_version)
        )  # fmt: skip
    found = [
        change
        for (key, metric), runs in series.items()
        for change in analyse_series(key, metric, runs, alpha=alpha, min_effect=min_effect)
    ]
    found.sort(key=lambda c: (c.at, c.after_run, c.model, c.case, c.metric), reverse=True)
    return found
