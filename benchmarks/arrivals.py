"""Open-loop scheduler: how close to its scheduled arrival each request is really sent.

    python benchmarks/arrivals.py [--quick] [--json]

``llmbox bench --rate R`` sends request *i* at its due time ``t_i`` and counts its latencies
from ``t_i``; the scheduler's own lateness (send − due) is therefore inside every TTFT it
reports, and must stay small: the budget is 1 ms at 100 req/s.

Two set-ups, each through the real ``Runner`` (what ``llmbox bench`` runs):

- **no-op backend**: ``generate`` notes the time it was called and returns at once, so the
  event loop has nothing else to do: the scheduler alone.
- **fast server**: the Ollama backend against ``benchmarks/_servers.py fast`` (another process)
  answering one token per request over HTTP: the loop also parses responses while it schedules,
  as in a real run.

Lateness is measured twice: as llmbox reports it (``sched_delay_s``, the gap between the due time
and the moment the request's task starts) and independently, from the time the backend's
``generate`` was called, against a constant schedule (call_i − call_0 − i/R, shifted so the
earliest is 0). The delivered rate is requests over the span from the first call to the last.
Constant arrivals make the schedule exact; a Poisson run checks the delivered rate of a random
schedule against the asked one.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from time import perf_counter_ns

from _common import Figure, log, main, server

from llmbox.backends.base import Capabilities, GenRequest
from llmbox.bench.grid import GridOptions, cases_from_options, expand
from llmbox.bench.runner import Runner, RunnerConfig
from llmbox.results import BenchReport, ModelInfo, RunSample, Server

RATE = 100.0
BUDGET_MS = 1.0
RATE_TOLERANCE = 0.01  # the delivered rate within 1 % of the asked one (constant arrivals)


class NoopBackend:
    """Answers at once; records when each request was handed to it."""

    kind = "ollama"
    host = "mem://"
    capabilities = Capabilities(
        unload=False, ignore_eos=False, images=False, memory=False, server_timings=True
    )

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def server_info(self) -> Server:
        return Server(kind="ollama", host=self.host, version="0")

    async def model_info(self, model: str) -> ModelInfo:
        return ModelInfo(name=model)

    async def memory(self, model: str) -> ModelInfo | None:
        return None

    async def unload(self, model: str) -> None:
        return None

    async def generate(self, request: GenRequest) -> RunSample:
        self.calls.append(perf_counter_ns())
        return RunSample(eval_count=1, eval_duration_ns=1, ttft_s=0.0, e2e_s=0.0)

    async def aclose(self) -> None:
        return None


class Timed:
    """Wraps a backend to record when each request was handed to it."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def generate(self, request: GenRequest) -> RunSample:
        self.calls.append(perf_counter_ns())
        sample: RunSample = await self.inner.generate(request)  # type: ignore[attr-defined]
        return sample


def run_load(backend: object, arrivals: str, n: int) -> tuple[BenchReport, list[int]]:
    opts = GridOptions(prompt="go", max_tokens=[1], rates=[RATE], requests=n, arrivals=arrivals)
    grid = expand(["bench"], cases_from_options(opts))
    report = BenchReport(
        llmbox_version="0", backend="ollama", server=Server(kind="ollama", host="-"),
        started_at="now",
    )  # fmt: skip
    runner = Runner(backend, RunnerConfig(runs=1, warmup=0))  # type: ignore[arg-type]

    async def go() -> None:
        info = await backend.model_info("bench")  # type: ignore[attr-defined]
        await runner.run(grid, report, {"bench": info})
        await backend.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())
    calls: list[int] = backend.calls  # type: ignore[attr-defined]
    return report, calls


def os_floor(n: int) -> list[float]:
    """Lateness (ms) of a bare thread sleeping to the same schedule with ``time.sleep``: what
    the operating system itself delivers on this machine, the yardstick for the p99."""
    step = round(1e9 / RATE)
    t0 = perf_counter_ns() + 5_000_000
    late = []
    for i in range(n):
        due = t0 + i * step
        wait = (due - perf_counter_ns()) / 1e9
        if wait > 0:
            time.sleep(wait)
        late.append((perf_counter_ns() - due) / 1e6)
    return late


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def lateness(report: BenchReport, calls: list[int]) -> tuple[list[float], list[float]]:
    """(as llmbox reports it, independently from call times) in ms, constant arrivals."""
    reported = [(r.sched_delay_s or 0.0) * 1e3 for r in report.results[0].runs]
    step = 1e9 / RATE
    offsets = [(t - calls[0] - i * step) / 1e6 for i, t in enumerate(calls)]
    low = min(offsets)
    return reported, [o - low for o in offsets]


def delivered_rate(calls: list[int]) -> float:
    return (len(calls) - 1) / ((calls[-1] - calls[0]) / 1e9)


def figures(label: str, report: BenchReport, calls: list[int], floor_p99: float) -> list[Figure]:
    s = "Open-loop scheduler"
    reported, independent = lateness(report, calls)
    p50, p99 = statistics.median(reported), percentile(reported, 0.99)
    rate = delivered_rate(calls)
    n = len(calls)
    return [
        Figure(
            s,
            f"{label}: send lateness p50 at {RATE:g} req/s",
            p50,
            "ms",
            f"≤ {BUDGET_MS:g} ms",
            p50 <= BUDGET_MS,
            f"{n} requests, constant arrivals; as reported (sched_delay_s)",
        ),
        Figure(
            s,
            f"{label}: send lateness p99 at {RATE:g} req/s",
            p99,
            "ms",
            f"≤ {BUDGET_MS:g} ms",
            p99 <= BUDGET_MS,
            f"the OS floor's p99 in the same run: {floor_p99:.2f} ms",
        ),
        Figure(
            s,
            f"{label}: send lateness p99 beyond the OS floor",
            p99 - floor_p99,
            "ms",
            f"≤ {BUDGET_MS:g} ms",
            p99 - floor_p99 <= BUDGET_MS,
            "what the scheduler adds to what time.sleep in a bare thread gets",
        ),
        Figure(s, f"{label}: send lateness max", max(reported), "ms"),
        Figure(
            s,
            f"{label}: send lateness p99 from backend call times",
            percentile(independent, 0.99),
            "ms",
            note="independent check: call_i − call_0 − i/R, earliest shifted to 0",
        ),
        Figure(
            s,
            f"{label}: delivered / asked rate",
            rate / RATE,
            "×",
            f"1 ± {RATE_TOLERANCE:.0%}",
            abs(rate / RATE - 1) <= RATE_TOLERANCE,
            f"{rate:.2f} req/s delivered",
        ),
    ]


def measure(quick: bool) -> list[Figure]:
    from llmbox.backends.ollama import OllamaBackend
    from llmbox.client import OllamaClient

    n = 100 if quick else 1000
    s = "Open-loop scheduler"
    floor = os_floor(n)
    floor_p99 = percentile(floor, 0.99)
    out = [
        Figure(s, "OS floor: time.sleep lateness p50", statistics.median(floor), "ms"),
        Figure(s, "OS floor: time.sleep lateness p99", floor_p99, "ms",
               note=f"a bare thread sleeping to a {RATE:g}/s schedule, {n} wake-ups"),
    ]  # fmt: skip
    noop = NoopBackend()
    cpu0 = time.process_time()
    report, calls = run_load(noop, "constant", n)
    cpu = time.process_time() - cpu0
    out += figures("no-op backend", report, calls, floor_p99)
    note = "scheduling, the last 2 ms waited in loop turns, bookkeeping"
    out.append(Figure(s, "no-op backend: client CPU per request", cpu / n * 1e3, "ms", note=note))
    log(f"arrivals: no-op backend, {n} requests")
    with server("fast") as base:
        timed = Timed(OllamaBackend(OllamaClient(host=base)))
        report, calls = run_load(timed, "constant", n)
        out += figures("fast server over HTTP", report, calls, floor_p99)
        log(f"arrivals: fast server, {n} requests")
        timed = Timed(OllamaBackend(OllamaClient(host=base)))
        report, calls = run_load(timed, "poisson", n)
    # A random schedule's own rate differs from the asked one by chance (relative sd 1/sqrt(n));
    # the scheduler must deliver the schedule it drew: due_i = call_i − lateness_i.
    runs = report.results[0].runs
    due = [t / 1e9 - (r.sched_delay_s or 0.0) for t, r in zip(calls, runs, strict=True)]
    drawn = (n - 1) / (due[-1] - due[0])
    rate = delivered_rate(calls)
    out += [
        Figure(s, "Poisson arrivals: drawn schedule's rate / asked", drawn / RATE, "×",
               note=f"{n} gaps: chance alone moves it by ±{1 / n**0.5:.0%} (1 sd)"),
        Figure(s, "Poisson arrivals over HTTP: delivered / drawn rate", rate / drawn, "×",
               f"1 ± {RATE_TOLERANCE:.0%}", abs(rate / drawn - 1) <= RATE_TOLERANCE,
               f"{rate:.2f} req/s delivered"),
    ]  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
