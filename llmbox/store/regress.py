"""Regressions found, not eyeballed: change points in each series of stored runs.

A *series* is one metric of one model × case label × machine × backend, in the order the runs
were started. Its change points are found in two steps:

1. **Step detection** (binary segmentation over the run means): the split that most reduces the
   sum of squared deviations of the run means from their segment's mean is a candidate; each
   side is then searched the same way.
2. **Confirmation**: a candidate stands only if Welch's t-test on the per-request values before
   and after it (every successful request of every run in the two segments) gives p < ``alpha``
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
from typing import TYPE_CHECKING

from llmbox.bench.compare import MIN_TIME_DELTA_S
from llmbox.bench.fields import METRICS
from llmbox.bench.significance import welch_p

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


@dataclass(frozen=True)
class RunValues:
    """One run's place in a series: its mean and the per-request values behind it."""

    run_id: int
    started_at: str
    mean: float
    samples: tuple[float, ...]
    server_version: str | None = None


@dataclass(frozen=True)
class Verdict:
    p_value: float
    change: float  # relative: (after - before) / |before|
    before: float
    after: float


def _segment_mean(runs: Sequence[RunValues]) -> float:
    return math.fsum(r.mean for r in runs) / len(runs)


def _pooled(runs: Sequence[RunValues]) -> list[float]:
    return [x for r in runs for x in (r.samples or (r.mean,))]


def confirm(
    before: Sequence[RunValues],
    after: Sequence[RunValues],
    *,
    metric: str,
    alpha: float,
    min_effect: float,
) -> Verdict | None:
    """The verdict for a change between two segments, or None if it does not stand."""
    b_mean, a_mean = _segment_mean(before), _segment_mean(after)
    if b_mean == 0:
        return None
    change = (a_mean - b_mean) / abs(b_mean)
    if abs(change) < min_effect:
        return None
    spec = METRICS.get(metric)
    if spec is not None and spec.is_time and abs(a_mean - b_mean) <= MIN_TIME_DELTA_S:
        return None
    p = welch(_pooled(before), _pooled(after))
    if p is None or p >= alpha:
        return None
    return Verdict(p, change, b_mean, a_mean)


def _best_split(means: Sequence[float], lo: int, hi: int) -> int:
    """The k in (lo, hi) minimising the squared deviations of [lo, k) and [k, hi)."""
    prefix, squares = [0.0], [0.0]
    for x in means[lo:hi]:
        prefix.append(prefix[-1] + x)
        squares.append(squares[-1] + x * x)
    n = hi - lo

    def sse(i: int, j: int) -> float:
        s, q = prefix[j] - prefix[i], squares[j] - squares[i]
        return q - s * s / (j - i)

    best, best_cost = lo + 1, math.inf
    for k in range(1, n):
        cost = sse(0, k) + sse(k, n)
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
    means = [r.mean for r in runs]
    found: list[int] = []

    def search(lo: int, hi: int) -> None:
        if hi - lo < 2:
            return
        k = _best_split(means, lo, hi)
        if confirm(runs[lo:k], runs[k:hi], metric=metric, alpha=alpha, min_effect=min_effect):
            found.append(k)
            search(lo, k)
            search(k, hi)

    search(0, len(runs))
    bounds = sorted(found)
    while True:  # every change must stand against its final neighbours
        edges = [0, *bounds, len(runs)]
        kept = [
            edges[i]
            for i in range(1, len(edges) - 1)
            if confirm(
                runs[edges[i - 1] : edges[i]],
                runs[edges[i] : edges[i + 1]],
                metric=metric,
                alpha=alpha,
                min_effect=min_effect,
            )
        ]
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
    higher = METRICS[metric].higher_is_better if metric in METRICS else True
    edges = [0, *bounds, len(runs)]
    latest = _segment_mean(runs[edges[-2] :])
    out = []
    for i in range(1, len(edges) - 1):
        before, after = runs[edges[i - 1] : edges[i]], runs[edges[i] : edges[i + 1]]
        verdict = confirm(before, after, metric=metric, alpha=alpha, min_effect=min_effect)
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


def find_regressions(
    store: Store,
    flt: RunFilter | None = None,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> list[ChangePoint]:
    """Every change point of every series in ``store`` matching ``flt``, newest first."""
    points = store.points(flt, metrics, with_samples=True)
    series: dict[tuple[tuple[str, str, str, str], str], list[RunValues]] = {}
    for p in points:
        if "mean" not in p.stats:
            continue
        series.setdefault((p.series, p.metric), []).append(
            RunValues(p.run_id, p.started_at, p.stats["mean"], tuple(p.samples), p.server_version)
        )
    found = [
        change
        for (key, metric), runs in series.items()
        for change in analyse_series(key, metric, runs, alpha=alpha, min_effect=min_effect)
    ]
    found.sort(key=lambda c: (c.at, c.after_run, c.model, c.case, c.metric), reverse=True)
    return found
