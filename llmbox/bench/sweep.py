"""``bench --sweep``: from one request at a time to saturation, then open-loop rates between
(as GuideLLM's sweep does). Phase one is an ordinary grid; phase two is built from its results."""

from __future__ import annotations

from dataclasses import dataclass

from llmbox.bench.grid import label_for
from llmbox.bench.load import default_requests, workload_key
from llmbox.results import BenchReport, Case, CaseResult

# -- sweep: from one request at a time to saturation ----------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """``--sweep``: phase one measures each workload one at a time and at full concurrency;
    phase two tries ``points`` open-loop rates evenly between the two throughputs."""

    points: int
    arrivals: str = "poisson"
    requests: int | None = None
    duration_s: float | None = None


def sweep_phase_one(base: Case, concurrency: int) -> list[Case]:
    """The one-at-a-time case and the saturation case (continuous, ``concurrency`` in flight)."""
    solo = base.model_copy(update={"concurrency": 1, "rate": None})
    full = base.model_copy(update={"concurrency": concurrency, "mode": "continuous", "rate": None})
    return [
        solo.model_copy(update={"label": label_for(solo)}),
        full.model_copy(update={"label": label_for(full)}),
    ]


def sweep_rates(report: BenchReport, sweep: SweepPlan) -> list[tuple[str, Case]]:
    """Phase two's grid from phase one's results: per model and workload, ``points`` rates
    strictly between the one-at-a-time rate and the saturated one."""
    grid = []
    by_key: dict[tuple[str, tuple[int | None, int, int, bool]], list[CaseResult]] = {}
    for r in report.results:
        if r.case.rate is None:
            by_key.setdefault((r.model, workload_key(r.case)), []).append(r)
    for (model, _), results in by_key.items():
        solo = next((r for r in results if r.case.concurrency == 1), None)
        full = next((r for r in results if r.case.concurrency > 1), None)
        if solo is None or full is None:
            continue
        lo = solo.summary.get("requests_per_s")
        hi = full.summary.get("requests_per_s")
        if lo is None or hi is None or lo.mean <= 0:
            continue
        top = max(hi.mean, lo.mean * 1.1)  # a server that gains nothing still gets a spread
        for i in range(1, sweep.points + 1):
            rate = round(lo.mean + (top - lo.mean) * i / (sweep.points + 1), 3)
            if sweep.requests is not None:
                n = sweep.requests
            elif sweep.duration_s is not None:
                n = max(1, round(rate * sweep.duration_s))
            else:
                n = default_requests(rate)
            case = solo.case.model_copy(
                update={"rate": rate, "arrivals": sweep.arrivals, "requests": n}
            )
            grid.append((model, case.model_copy(update={"label": label_for(case)})))
    return grid
