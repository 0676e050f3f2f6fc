"""What the report's charts show, computed from typed benchmark reports: pure and small.

Every chart is drawn from a table built here, aggregated before plotting so that the HTML stays
small however many runs go in: points are (series, x) groups pooled over runs, distributions are
pre-binned counts, trends are bucketed in time. A *series* is a model on one machine with one
backend; its label names the machine or backend only when the reports hold more than one.

Pooling combines per-result summaries exactly (``pool``), so the mean ± sd of a point is the
mean ± sample sd of every run behind it, as if one long benchmark had measured them all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from llmbox.bench.metrics import percentile, ratio_with_error
from llmbox.bench.significance import welch_p
from llmbox.defaults import ALPHA
from llmbox.results import BenchReport, Case, CaseResult, RunSample

__all__ = [
    "BenchReport",
    "Entry",
    "Pooled",
    "Regression",
    "entries",
    "pool",
]

#: Bins of a latency histogram.
HIST_BINS = 30
#: Series shown in a distribution chart (the ones with the most samples).
MAX_DIST_SERIES = 8
#: Points per series in a trend chart before runs are averaged into time buckets.
MAX_TREND_POINTS = 60


@dataclass(frozen=True)
class Pooled:
    n: int
    mean: float
    sd: float


def pool(parts: Iterable[tuple[float, float, float]]) -> Pooled | None:
    """Combine ``(n, mean, sd)`` summaries into the n, mean and sample sd of all their samples.

    >>> pool([(3, 10.0, 2.0), (3, 10.0, 2.0)])
    Pooled(n=6, mean=10.0, sd=1.7888543819998317)
    >>> pool([]) is None
    True
    """
    ps = [(n, m, s) for n, m, s in parts if n > 0]
    total = sum(n for n, _, _ in ps)
    if total == 0:
        return None
    mean = sum(n * m for n, m, _ in ps) / total
    if total < 2:
        return Pooled(int(total), mean, 0.0)
    within = sum((n - 1) * s * s for n, _, s in ps)
    between = sum(n * (m - mean) ** 2 for n, m, _ in ps)
    return Pooled(int(total), mean, math.sqrt(max(0.0, (within + between) / (total - 1))))


# --- flattening -----------------------------------------------------------------------------------


def parse_time(text: str) -> datetime | None:
    """An ISO-8601 UTC timestamp as written by ``llmbox bench``; None when unreadable."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def machine_name(report: BenchReport) -> str:
    """The machine a report ran on, named as the results store groups series: the machine's
    ``name`` if the report carries one, its hostname, its chip, its CPU, else the server's host."""
    for key in ("name", "hostname", "chip", "cpu"):
        value = report.machine.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return report.server.host


@dataclass(frozen=True)
class Entry:
    """One result (a model on a case) of one report, with the series it belongs to and its
    summary as ``(n, mean, sd)`` per metric (read once: the charts ask for them many times)."""

    report: BenchReport
    result: CaseResult
    case: Case
    series: str
    machine: str
    started_at: datetime | None
    stats: dict[str, tuple[float, float, float]]

    def stat(self, metric: str) -> tuple[float, float, float] | None:
        return self.stats.get(metric)

    def ok_runs(self) -> Iterator[RunSample]:
        return (r for r in self.result.runs if r.ok)


def entries(reports: Sequence[BenchReport]) -> list[Entry]:
    """Every result of every report, labelled with its series."""
    names = [machine_name(r) for r in reports]
    several_machines = len(set(names)) > 1
    several_backends = len({r.backend for r in reports}) > 1
    out = []
    for report, machine in zip(reports, names, strict=True):
        when = parse_time(report.started_at)
        suffix = (f" · {machine}" if several_machines else "") + (
            f" · {report.backend}" if several_backends else ""
        )
        for result in report.results:
            stats = {k: (s.n, s.mean, s.sd) for k, s in result.summary.items()}
            out.append(
                Entry(report, result, result.case, result.model + suffix, machine, when, stats)
            )
    return out


def _group(
    items: Iterable[Entry], key: Callable[[Entry], tuple[Any, ...] | None]
) -> dict[tuple[Any, ...], list[Entry]]:
    groups: dict[tuple[Any, ...], list[Entry]] = defaultdict(list)
    for e in items:
        k = key(e)
        if k is not None:
            groups[k].append(e)
    return groups


def _row(pooled: Pooled, **fields: Any) -> dict[str, Any]:
    return {
        **fields,
        "mean": round(pooled.mean, 3),
        "sd": round(pooled.sd, 3),
        "n": pooled.n,
    }


SPEED_METRICS = (("decode_tps", "decode"), ("prefill_tps", "prefill"))


def speed_vs(items: Sequence[Entry], axis: str) -> list[dict[str, Any]]:
    """Decode and prefill tok/s (mean ± sd) per series against ``axis`` (``prompt_tokens`` or
    ``max_tokens``), from single-request cases, pooled over everything else."""
    groups = _group(
        items,
        lambda e: (
            (e.series, getattr(e.case, axis))
            if e.case.concurrency == 1 and getattr(e.case, axis) is not None
            else None
        ),
    )
    rows = []
    for (series, x), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        for metric, word in SPEED_METRICS:
            p = pool(s for e in group if (s := e.stat(metric)) is not None)
            if p is not None:
                rows.append(_row(p, series=series, metric=word, **{axis: x}))
    return rows


def _throughput_parts(e: Entry) -> list[tuple[float, float, float]]:
    """Output tok/s of the whole server: a batch's aggregate rate, or one request's tokens over
    its end-to-end time when requests ran one at a time."""
    s = e.stat("aggregate_tps")
    if s is not None:
        return [s]
    return [(1, r.eval_count / r.e2e_s, 0.0) for r in e.ok_runs() if r.e2e_s and r.eval_count]


def concurrency(items: Sequence[Entry]) -> list[dict[str, Any]]:
    """Throughput (mean ± sd) and TTFT p50/p99 per series and concurrency level."""
    groups = _group(items, lambda e: (e.series, e.case.concurrency))
    rows = []
    for (series, level), group in sorted(groups.items(), key=lambda kv: kv[0]):
        tp = pool(part for e in group for part in _throughput_parts(e))
        ttft = sorted(r.ttft_s for e in group for r in e.ok_runs() if r.ttft_s is not None)
        row: dict[str, Any] = {"series": series, "concurrency": level}
        if tp is not None:
            row.update(_row(tp))
        if ttft:
            row["ttft_p50_ms"] = round(percentile(ttft, 50) * 1000, 3)
            row["ttft_p99_ms"] = round(percentile(ttft, 99) * 1000, 3)
            row["ttft_n"] = len(ttft)
        rows.append(row)
    return rows


def nice_step(span: float, bins: int) -> float:
    """A round bin width (1, 2 or 5 × 10^k) giving about ``bins`` bins over ``span``.

    >>> nice_step(100.0, 30), nice_step(0.7, 30)
    (5.0, 0.05)
    """
    raw = span / bins if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return float(f"{step:.12g}")


def histogram(items: Sequence[Entry], field: str, bins: int = HIST_BINS) -> list[dict[str, Any]]:
    """Counts of a per-request latency (``ttft_s`` or ``itl_mean_s``, shown in ms) per series,
    in shared round bins; empty bins are left out."""
    values: dict[str, list[float]] = defaultdict(list)
    for e in items:
        for r in e.ok_runs():
            v = getattr(r, field)
            if v is not None:
                values[e.series].append(v * 1000)
    if not values:
        return []
    keep = sorted(values, key=lambda s: -len(values[s]))[:MAX_DIST_SERIES]
    lo = min(min(values[s]) for s in keep)
    hi = max(max(values[s]) for s in keep)
    step = nice_step(hi - lo, bins)
    start = math.floor(lo / step) * step
    rows = []
    for series in sorted(keep):
        counts: dict[int, int] = defaultdict(int)
        for v in values[series]:
            counts[int((v - start) // step)] += 1
        total = len(values[series])
        for i in sorted(counts):
            rows.append(
                {
                    "series": series,
                    "from_ms": round(start + i * step, 6),
                    "to_ms": round(start + (i + 1) * step, 6),
                    "count": counts[i],
                    "share": round(counts[i] / total, 4),
                }
            )
    return rows


# --- models side by side --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The fastest series of a case against one other, at one metric."""

    case: str
    metric: str
    faster: str
    slower: str
    ratio: float
    ratio_error: float
    p: float | None

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < ALPHA

    @property
    def text(self) -> str:
        """As ``llmbox bench`` words its verdicts."""
        if self.p is not None and not self.significant:
            return (
                f"{self.faster} and {self.slower}: no significant difference at {self.metric} "
                f"({self.case}, p={self.p:.2f})"
            )
        tail = ", too few runs to test significance" if self.p is None else f", p={self.p:.2g}"
        return (
            f"{self.faster} ran {self.ratio:.2f} ± {self.ratio_error:.2f}× faster than "
            f"{self.slower} at {self.metric} ({self.case}{tail})"
        )


def side_by_side(items: Sequence[Entry]) -> tuple[list[dict[str, Any]], list[Verdict]]:
    """Decode and prefill tok/s per case and series, for cases measured on two or more series;
    and for each case and metric the fastest series against each other one (Welch's t-test)."""
    groups = _group(items, lambda e: (e.case.label, e.series))
    by_case: dict[str, dict[str, list[Entry]]] = defaultdict(dict)
    for (case, series), group in groups.items():
        by_case[case][series] = group
    rows, verdicts = [], []
    for case in sorted(by_case):
        if len(by_case[case]) < 2:
            continue
        for metric, word in SPEED_METRICS:
            pooled = {
                series: both
                for series, group in sorted(by_case[case].items())
                if (both := pool(s for e in group if (s := e.stat(metric)) is not None))
            }
            for series, both in pooled.items():
                rows.append(_row(both, case=case, series=series, metric=word))
            ranked = sorted(pooled.items(), key=lambda kv: -kv[1].mean)
            if len(ranked) < 2 or ranked[0][1].mean <= 0:
                continue
            best_series, best = ranked[0]
            for series, other in ranked[1:]:
                if other.mean <= 0:
                    continue
                ratio, err = ratio_with_error(best.mean, best.sd, other.mean, other.sd)
                p = welch_p(best.mean, best.sd, best.n, other.mean, other.sd, other.n)
                verdicts.append(Verdict(case, word, best_series, series, ratio, err, p))
    return rows, verdicts


# --- trend ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Regression:
    """A change point the results store found: the series (model, case, machine, backend) got
    worse from the run that started ``at`` on."""

    model: str
    case: str
    machine: str
    backend: str
    metric: str
    at: datetime
    change_pct: float


def _series_case(e: Entry) -> tuple[str, str]:
    return e.series, e.case.label


def host_cell(e: Entry) -> tuple[str, str]:
    """A fleet's trend: one line per host, one panel per model and case."""
    return e.machine, f"{e.result.model} · {e.case.label}"


def trend(
    items: Sequence[Entry],
    regressions: Sequence[Regression] = (),
    metric: str = "decode_tps",
    key: Callable[[Entry], tuple[str, str]] = _series_case,
) -> list[dict[str, Any]]:
    """``metric`` over time, one point per run of each (series, case) seen at two or more times
    (``key`` names them: ``host_cell`` draws a line per host); a series with more than
    ``MAX_TREND_POINTS`` runs is averaged into as many time buckets. Points where a regression
    was found carry ``regression`` (the change in percent)."""
    groups: dict[tuple[str, str], list[tuple[datetime, Entry]]] = defaultdict(list)
    for e in items:
        if e.started_at is not None and e.stat(metric) is not None:
            groups[key(e)].append((e.started_at, e))
    flagged = {
        (r.model, r.case, r.machine, r.backend, r.at): r.change_pct
        for r in regressions
        if r.metric == metric
    }
    rows = []
    for (series, case), group in sorted(groups.items(), key=lambda kv: kv[0]):
        if len({at for at, _ in group}) < 2:
            continue
        group.sort(key=lambda pair: pair[0])
        first, span = group[0][0], (group[-1][0] - group[0][0]).total_seconds()
        buckets: dict[int, list[tuple[datetime, Entry]]] = defaultdict(list)
        for i, (at, e) in enumerate(group):
            if len(group) > MAX_TREND_POINTS:
                i = min(
                    MAX_TREND_POINTS - 1,
                    int((at - first).total_seconds() / span * MAX_TREND_POINTS),
                )
            buckets[i].append((at, e))
        for bucket in buckets.values():
            p = pool(s for _, e in bucket if (s := e.stat(metric)) is not None)
            if p is None:
                continue
            row = _row(p, series=series, case=case, at=chart_time(bucket[-1][0]))
            row["runs"] = len(bucket)
            row["versions"] = ", ".join(sorted({_versions(e.report) for _, e in bucket}))
            changes = [
                c
                for at, e in bucket
                if (
                    c := flagged.get(
                        (e.result.model, e.case.label, e.machine, e.report.backend, at)
                    )
                )
                is not None
            ]
            if changes:
                row["regression"] = round(changes[0], 1)
            rows.append(row)
    if len({r["versions"] for r in rows}) == 1:  # the same everywhere: not worth a byte per point
        for r in rows:
            del r["versions"]
    return rows


_ISO = "%Y-%m-%dT%H:%M:%SZ"


def chart_time(when: datetime) -> str:
    """A start as the charts' data gives it: to the second when it is whole (as reports stamped
    to the second always were), else to the millisecond, which every browser's ``Date`` reads.

    >>> chart_time(datetime(2026, 11, 30, 16, 25, 49, tzinfo=timezone.utc))
    '2026-11-30T16:25:49Z'
    >>> chart_time(datetime(2026, 11, 30, 16, 25, 49, 123456, tzinfo=timezone.utc))
    '2026-11-30T16:25:49.123Z'
    """
    text = when.astimezone(timezone.utc).strftime(_ISO)
    return f"{text[:-1]}.{when.microsecond // 1000:03d}Z" if when.microsecond else text


#: Sorts a report without a readable start before every other.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _versions(report: BenchReport) -> str:
    server = report.server.version or "?"
    return f"llmbox {report.llmbox_version}, {report.server.kind} {server}"
