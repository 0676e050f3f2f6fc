"""How requests arrive: open-loop schedules and closed-loop workers.

- **Open loop** (``--rate R``): request *i* is due at ``t_i``, drawn from an arrival process, and is
  sent then whatever the server is doing. Latencies count from ``t_i`` (not from the send), so a
  client held back by ``--max-concurrency`` — or a stall anywhere — shows up in TTFT instead of
  hiding (coordinated omission). The gap between ``t_i`` and the actual send is kept per request
  (``sched_delay_s``); without a cap it is the scheduler's own jitter.
- **Closed loop, continuous** (``--concurrency C``): C workers, each sending its next request as
  soon as its last one finished: C requests in flight all the time (as GuideLLM and AIPerf do).
- **Closed loop, batch** (``--concurrency-mode batch``): C requests at once, wait for all, repeat.

Arrival processes (``--arrivals``): ``poisson`` (exponential gaps), ``constant`` (every 1/R s), and
``gamma:K`` (gamma gaps of shape K, mean 1/R: K < 1 is burstier than Poisson, K > 1 more regular).
One random stream serves the whole schedule, seeded per invocation, so no two gaps repeat by
construction (a load tester that seeds every worker alike sends each gap N times).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter_ns

from llmbox.errors import UsageError
from llmbox.results import BenchReport, Case, CaseResult

ARRIVALS = ("poisson", "constant", "gamma:K")


@dataclass(frozen=True)
class Arrivals:
    kind: str  # "poisson" | "constant" | "gamma"
    shape: float = 1.0  # gamma's K

    @property
    def label(self) -> str:
        return f"gamma:{self.shape:g}" if self.kind == "gamma" else self.kind


def parse_arrivals(spec: str) -> Arrivals:
    """``poisson``, ``constant`` or ``gamma:K`` (K > 0).

    >>> parse_arrivals("gamma:0.5")
    Arrivals(kind='gamma', shape=0.5)
    """
    text = spec.strip().lower()
    if text in ("poisson", "constant"):
        return Arrivals(text)
    kind, _, k = text.partition(":")
    if kind == "gamma":
        try:
            shape = float(k)
        except ValueError:
            shape = math.nan
        if math.isfinite(shape) and shape > 0:
            return Arrivals("gamma", shape)
    raise UsageError(
        f"--arrivals {spec!r}: expected poisson, constant or gamma:K (K > 0)",
        hint="e.g. --arrivals gamma:0.5 for bursty traffic",
    )


def schedule(arrivals: Arrivals, rate: float, n: int, rng: random.Random) -> list[float]:
    """Due times (seconds from the start) of ``n`` requests at ``rate`` per second; the first is
    due after one gap, as in a process already running."""
    if rate <= 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be a positive number, not {rate}")
    t, out = 0.0, []
    for _ in range(n):
        t += gap(arrivals, rate, rng)
        out.append(t)
    return out


def gap(arrivals: Arrivals, rate: float, rng: random.Random) -> float:
    if arrivals.kind == "constant":
        return 1.0 / rate
    if arrivals.kind == "gamma":
        return rng.gammavariate(arrivals.shape, 1.0 / (arrivals.shape * rate))
    return rng.expovariate(rate)


#: The last stretch before a due time is waited in event-loop turns, not on a timer: asyncio's
#: timers wake up to ~1 ms late (epoll counts in whole ms, rounded up), which would put the
#: median send ~1.2 ms behind schedule (benchmarks/arrivals.py). Costs ~1 ms of CPU a request.
SPIN_S = 0.002


async def wait_until(due_ns: int) -> None:
    """Return at ``perf_counter_ns() >= due_ns``, within a loop turn of it (other tasks run)."""
    wait = (due_ns - perf_counter_ns()) / 1e9 - SPIN_S
    if wait > 0:
        await asyncio.sleep(wait)
    while perf_counter_ns() < due_ns:
        await asyncio.sleep(0)


def parse_rates(value: str | None) -> list[float]:
    """``"0.5,1,2"`` -> ``[0.5, 1.0, 2.0]`` requests per second."""
    if not value:
        return []
    out = []
    for item in value.split(","):
        try:
            rate = float(item.strip())
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or rate <= 0:
            raise UsageError(
                f"--rate: {item.strip()!r} is not a positive number of requests per second",
                hint="e.g. --rate 0.5,1,2,4",
            )
        out.append(rate)
    return out


def default_requests(rate: float) -> int:
    """Requests per rate when neither --requests nor --duration is given: about 30 s of load,
    at least 10."""
    return max(10, math.ceil(rate * 30))


#: ``--slo`` names: metric -> (field in the run, factor to seconds).
SLO_METRICS = {
    "ttft_s": ("ttft_s", 1.0),
    "ttft_ms": ("ttft_s", 1e-3),
    "ttft_answer_s": ("ttft_answer_s", 1.0),
    "ttft_answer_ms": ("ttft_answer_s", 1e-3),
    "e2e_s": ("e2e_s", 1.0),
    "e2e_ms": ("e2e_s", 1e-3),
    "itl_s": ("itl_s", 1.0),
    "itl_ms": ("itl_s", 1e-3),
    "queue_s": ("queue_s", 1.0),
    "queue_ms": ("queue_s", 1e-3),
}


def parse_slo(spec: str | None) -> dict[str, float]:
    """``ttft_s=2,itl_ms=100,e2e_s=10`` -> limits in seconds by run metric.

    >>> parse_slo("ttft_s=2,itl_ms=100")
    {'ttft_s': 2.0, 'itl_s': 0.1}
    """
    if not spec:
        return {}
    hint = f"e.g. --slo ttft_s=2,itl_ms=100,e2e_s=10; names: {', '.join(SLO_METRICS)}"
    out: dict[str, float] = {}
    for item in spec.split(","):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in SLO_METRICS:
            raise UsageError(f"--slo {item.strip()!r}: expected NAME=LIMIT", hint=hint)
        try:
            limit = float(raw)
        except ValueError:
            limit = math.nan
        if not math.isfinite(limit) or limit <= 0:
            raise UsageError(
                f"--slo {item.strip()!r}: the limit must be a positive number", hint=hint
            )
        metric, factor = SLO_METRICS[name]
        out[metric] = limit * factor
    return out


#: The share of requests that must meet the SLO for a rate to count as sustained.
SUSTAINED_SHARE = 0.99


def sustained(report: BenchReport) -> list[str]:
    """Per model and workload: the highest open-loop rate at which ≥ 99 % of requests met the
    SLO, e.g. "llama3.2 sustains 3.2 req/s of pp512 tg128 with 99 % within ttft_s ≤ 2 s"."""
    slo = report.options.slo
    if not slo:
        return []
    best: dict[tuple[str, str], float] = {}
    tried: set[tuple[str, str]] = set()
    for r in report.results:
        if r.case.rate is None or "slo_pass" not in r.summary:
            continue
        workload = r.case.label.split(" @")[0]
        key = (r.model, workload)
        tried.add(key)
        if r.summary["slo_pass"].mean >= SUSTAINED_SHARE:
            best[key] = max(best.get(key, 0.0), r.summary["requests_per_s"].mean)
    limits = " and ".join(f"{m} ≤ {v:g} s" for m, v in slo.items())
    lines = []
    for model, workload in sorted(tried):
        if (model, workload) in best:
            rate = best[(model, workload)]
            lines.append(
                f"{model} sustains {rate:.2f} req/s of {workload} with "
                f"{SUSTAINED_SHARE:.0%} within {limits}"
            )
        else:
            lines.append(
                f"{model} met {limits} for {SUSTAINED_SHARE:.0%} of requests at no rate tried "
                f"({workload}): try lower --rate"
            )
    return lines


def workload_key(case: Case) -> tuple[int | None, int, int, bool]:
    """What a request asks, whatever the load: the cases of one sweep share it."""
    return (case.prompt_tokens, case.max_tokens, case.images, bool(case.think))


#: Latency "takes off" where TTFT p90 exceeds this multiple of the one-at-a-time TTFT p90.
KNEE_FACTOR = 2.0


def knees(report: BenchReport) -> list[str]:
    """Per model and workload with open-loop rates: throughput against latency, and the rate at
    which latency takes off (TTFT p90 beyond twice the one-at-a-time value)."""
    points: dict[tuple[str, tuple[int | None, int, int, bool]], list[CaseResult]] = {}
    for r in report.results:
        if "requests_per_s" in r.summary and "ttft_s" in r.summary:
            points.setdefault((r.model, workload_key(r.case)), []).append(r)
    lines = []
    for (model, _), results in points.items():
        if not any(r.case.rate is not None for r in results):
            continue
        solo = next((r for r in results if r.case.concurrency == 1 and r.case.rate is None), None)
        ordered = sorted(results, key=lambda r: r.summary["requests_per_s"].mean)
        lines += _behind(model, [r for r in ordered if r.case.rate is not None])
        if solo is None and len(ordered) < 2:
            continue  # one point: nothing to compare its latency with
        base = (solo or ordered[0]).summary["ttft_s"]
        base_p90 = base.p90 if base.p90 is not None else base.max
        workload = (solo or ordered[0]).case.label.split(" c")[0].split(" @")[0]
        last_ok = None
        for r in ordered:
            stat = r.summary["ttft_s"]
            p90 = stat.p90 if stat.p90 is not None else stat.max
            rate = r.summary["requests_per_s"].mean
            if p90 > KNEE_FACTOR * base_p90:
                since = f"between {last_ok:.2f} and {rate:.2f}" if last_ok else f"by {rate:.2f}"
                lines.append(
                    f"{model} {workload}: latency takes off {since} req/s "
                    f"(TTFT p90 {base_p90:.3f} s one at a time, {p90:.3f} s at {rate:.2f} req/s)"
                )
                break
            last_ok = rate
        else:
            lines.append(
                f"{model} {workload}: latency held up to {last_ok:.2f} req/s, the most tried"
            )
    return lines


#: An open-loop rate counts as not kept up with below this share of the asked rate.
BEHIND_SHARE = 0.8


def _behind(model: str, results: Sequence[CaseResult]) -> list[str]:
    """Open-loop rates the server did not keep up with: completions/s against the asked rate."""
    lines = []
    for r in results:
        asked, done = r.case.rate or 0.0, r.summary["requests_per_s"].mean
        if done >= BEHIND_SHARE * asked:
            continue
        queue = r.summary.get("queue_s")
        waited = f"; requests queued up to {queue.max:.2f} s" if queue is not None else ""
        lines.append(
            f"{model} {r.case.label}: completed {done:.2f} req/s of the {asked:g} asked — "
            f"the server fell behind{waited}"
        )
    return lines
