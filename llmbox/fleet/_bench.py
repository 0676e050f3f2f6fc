"""``fleet bench``: the same workload on every selected host, in parallel across hosts and never
two runs on one host at once; gates per host; outliers among hosts with the same chip.

Each host runs a whole ``llmbox bench`` session (``llmbox.bench.session.run_bench``, the plan built
with the host's URL) in a worker thread of its own, so one host's session is exactly what
``llmbox bench --host URL`` would do. A report's ``machine`` block names the host and its facts
from the inventory (not the machine llmbox runs on, which is kept as ``coordinator``). Each
host's report is saved in the results store as soon as that host is done (an interrupted one too),
tagged ``fleet_host``, ``fleet_group`` and ``fleet_run`` (one value per ``fleet bench``).

SIGTERM (a CI runner's timeout) and Ctrl-C stop every host's session the same way: each saves what
it measured, marked interrupted, and the fleet's exit code is 143 or 130.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from llmbox.errors import ExitCode, Interrupted, LlmboxError
from llmbox.fleet import defaults
from llmbox.fleet._inventory import Host
from llmbox.fleet._run import error_text

if TYPE_CHECKING:
    from llmbox.bench.plan import BenchOptions
    from llmbox.bench.runner import Event
    from llmbox.bench.session import GateOptions, History, Saved
    from llmbox.results import BenchReport, CaseResult

    #: The history a host's report is saved to, given the host, the fleet's tags for it, and
    #: whether the fleet was stopped (a save waiting for a locked store gives up then).
    HistoryFor = Callable[[Host, dict[str, str], Callable[[], bool]], History]

#: Power modes that are not a reason to be slow.
_FULL_POWER = {"ac", "high", "performance", "high-performance", "max", "plugged"}
_CHECKS = "check thermal throttling and other work on the host (top, nvidia-smi, powermetrics)"


@dataclass
class HostBench:
    """One host's benchmark: the report (as far as it got) and the error that ended it, if any;
    ``others_loaded``: models other than the benchmarked ones that ``ps`` showed before or after;
    ``saved``: where the results store keeps the report (``store_error`` if saving failed)."""

    host: Host
    report: BenchReport | None = None
    error: LlmboxError | None = field(default=None, repr=False)
    others_loaded: list[str] = field(default_factory=list)
    saved: Saved | None = None
    store_error: LlmboxError | None = field(default=None, repr=False)

    @property
    def failed_gates(self) -> list[Any]:
        return [g for g in (self.report.gates if self.report else []) if not g.passed]

    @property
    def state(self) -> str:
        """ok, gate failed, runs failed, unreachable, interrupted or failed."""
        if self.failed_gates:
            return "gate failed"
        if self.error is None:
            return "ok"
        code = self.error.exit_code
        if code == ExitCode.UNREACHABLE:
            return "unreachable"
        if isinstance(self.error, Interrupted):
            return "interrupted"
        return "runs failed" if self.report is not None and self.report.results else "failed"

    def result(self, model: str, case: str) -> CaseResult | None:
        from llmbox.names import same_model

        for r in self.report.results if self.report else []:
            if same_model(r.model, model) and r.case.label == case:
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.host.name,
            "url": self.host.url,
            "chip": self.host.chip,
            "state": self.state,
            "others_loaded": list(self.others_loaded),
        }
        if self.error is not None:
            data["error"] = error_text(self.error)
        data["failed_gates"] = [g.message for g in self.failed_gates]
        data["saved_run"] = self.saved.id if self.saved is not None else None
        if self.store_error is not None:
            data["store_error"] = self.store_error.message
        data["report"] = self.report.model_dump(mode="json", by_alias=True) if self.report else None
        return data


@dataclass(frozen=True)
class Outlier:
    """A host much slower than its peers with the same chip, and the likely cause."""

    host: str
    model: str
    case: str
    metric: str
    value: float
    peer_median: float
    peers: tuple[str, ...]
    chip: str
    causes: tuple[str, ...]

    @property
    def ratio(self) -> float:
        """How many times slower than its peers (> 1)."""
        if self.metric == "decode_tps":
            return self.peer_median / self.value if self.value else float("inf")
        return self.value / self.peer_median if self.peer_median else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "model": self.model,
            "case": self.case,
            "metric": self.metric,
            "value": self.value,
            "peer_median": self.peer_median,
            "times_slower": round(self.ratio, 3),
            "peers": list(self.peers),
            "chip": self.chip,
            "causes": list(self.causes),
        }


@dataclass
class FleetBench:
    hosts: list[HostBench]
    outliers: list[Outlier] = field(default_factory=list)
    interrupted: bool = False
    terminated: bool = False  # by SIGTERM (interrupted too)
    #: The ``fleet_run`` tag of every host's stored report (when saved).
    run_tag: str | None = None

    @classmethod
    def from_reports(cls, reports: Sequence[BenchReport]) -> FleetBench | None:
        """The fleet as ``fleet bench`` saw it, from saved reports (files or the store): the
        latest report of each host (its ``machine`` block names it ``fleet_host``, with the
        inventory's facts), outliers found again. None unless two hosts or more are there."""
        latest: dict[str, BenchReport] = {}
        for report in sorted(reports, key=lambda r: r.started_at):
            name = report.machine.get("fleet_host")
            if isinstance(name, str) and name:
                latest[name] = report
        if len(latest) < 2:
            return None
        hosts = []
        for name in sorted(latest):
            report = latest[name]
            m = report.machine
            memory = m.get("memory_bytes")
            labels = m.get("labels")
            host = Host(
                name=name,
                url=report.server.host,
                labels=dict(labels) if isinstance(labels, dict) else {},
                chip=m.get("chip") if isinstance(m.get("chip"), str) else None,
                memory_gb=memory / 2**30 if isinstance(memory, (int, float)) else None,
                power=m.get("power") if isinstance(m.get("power"), str) else None,
            )
            others = m.get("others_loaded")
            error = Interrupted("interrupted") if report.interrupted else None
            hosts.append(
                HostBench(host, report, error, list(others) if isinstance(others, list) else [])
            )
        return cls(hosts, find_outliers(hosts))

    @property
    def cells(self) -> list[tuple[str, str]]:
        """(model, case label) of every result, in run order."""
        seen: dict[tuple[str, str], None] = {}
        for h in self.hosts:
            for r in h.report.results if h.report else []:
                seen.setdefault((r.model, r.case.label), None)
        return list(seen)

    @property
    def store_errors(self) -> list[HostBench]:
        return [h for h in self.hosts if h.store_error is not None]

    @property
    def gate_failures(self) -> list[HostBench]:
        return [h for h in self.hosts if h.failed_gates]

    @property
    def failed(self) -> list[HostBench]:
        return [h for h in self.hosts if h.state not in ("ok", "gate failed")]

    @property
    def exit_code(self) -> int:
        """143 terminated, 130 interrupted, 3 no host reached, 5 a gate failed on some host,
        1 some host failed."""
        if self.terminated:
            return int(ExitCode.TERMINATED)
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if self.hosts and all(h.state == "unreachable" for h in self.hosts):
            return int(ExitCode.UNREACHABLE)
        if self.gate_failures:
            return int(ExitCode.GATE_FAILED)
        return int(ExitCode.FAILURE) if self.failed else int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "llmbox.fleet-bench/1",
            "interrupted": self.interrupted,
            "terminated": self.terminated,
            "fleet_run": self.run_tag,
            "summary": {
                "hosts": len(self.hosts),
                "ok": sum(h.state == "ok" for h in self.hosts),
                "gate_failed": [h.host.name for h in self.gate_failures],
                "failed": [h.host.name for h in self.failed],
            },
            "outliers": [o.to_dict() for o in self.outliers],
            "hosts": [h.to_dict() for h in self.hosts],
        }


# -- outliers (pure) ------------------------------------------------------------------------------


def _mean(result: CaseResult | None, metric: str) -> float | None:
    if result is None or metric not in result.summary:
        return None
    value = result.summary[metric].mean
    return value if value > 0 else None


def _causes(h: HostBench, result: CaseResult, peers: Sequence[HostBench]) -> tuple[str, ...]:
    causes = []
    info = result.model_info
    if info.size_vram is not None and info.size and info.size_vram < info.size:
        causes.append(f"CPU spill: {info.processor or 'part of the model on the CPU'}")
    if h.others_loaded:
        causes.append(f"other models loaded: {', '.join(h.others_loaded)}")
    power = (h.host.power or "").lower()
    if power and power not in _FULL_POWER:
        usual = Counter((p.host.power or "?").lower() for p in peers).most_common(1)[0][0]
        causes.append(f"power mode {h.host.power} (its peers: {usual})")
    mems = [p.host.memory_gb for p in peers if p.host.memory_gb is not None]
    if h.host.memory_gb is not None and mems and h.host.memory_gb < statistics.median(mems):
        causes.append(
            f"less memory: {h.host.memory_gb:g} GB (its peers: {statistics.median(mems):g} GB)"
        )
    if not causes:
        causes.append(f"nothing in ps or the machine facts explains it: {_CHECKS}")
    return tuple(causes)


def find_outliers(
    hosts: Sequence[HostBench],
    *,
    ratio: float = defaults.OUTLIER_RATIO,
    min_peers: int = defaults.OUTLIER_MIN_PEERS,
) -> list[Outlier]:
    """Hosts whose decode rate is below ``ratio`` × the median of their same-chip peers (or
    whose end-to-end time is above median / ``ratio`` when there is no decode rate), per model
    and case; with at least ``min_peers`` peers. Hosts without a chip fact are not compared."""
    by_chip: dict[str, list[HostBench]] = {}
    for h in hosts:
        if h.host.chip is not None and h.report is not None:
            by_chip.setdefault(h.host.chip, []).append(h)
    cells = FleetBench(list(hosts)).cells
    out = []
    for chip, group in by_chip.items():
        for model, case in cells:
            for h in group:
                found = _outlier(h, [p for p in group if p is not h], model, case, ratio, min_peers)
                if found is not None:
                    metric, value, median = found
                    peers = [p for p in group if p is not h]
                    result = h.result(model, case)
                    assert result is not None
                    out.append(
                        Outlier(
                            host=h.host.name,
                            model=model,
                            case=case,
                            metric=metric,
                            value=value,
                            peer_median=median,
                            peers=tuple(p.host.name for p in peers),
                            chip=chip,
                            causes=_causes(h, result, peers),
                        )
                    )
    return out


def _outlier(
    h: HostBench, peers: Sequence[HostBench], model: str, case: str, ratio: float, min_peers: int
) -> tuple[str, float, float] | None:
    """(metric, value, peers' median) when ``h`` is much slower than ``peers``: by decode rate
    when it has one, else by end-to-end time."""
    for metric in ("decode_tps", "e2e_s"):
        value = _mean(h.result(model, case), metric)
        values = [v for p in peers if (v := _mean(p.result(model, case), metric)) is not None]
        if value is None or len(values) < min_peers:
            continue
        median = statistics.median(values)
        slow = value < ratio * median if metric == "decode_tps" else value * ratio > median
        return (metric, value, median) if slow else None
    return None


# -- running --------------------------------------------------------------------------------------


class _Stop:
    """Lets the main thread cancel a host's session running in a worker thread's event loop."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def attach(self) -> None:
        """Called inside the session's loop (from its first checkpoint)."""
        task = asyncio.current_task()
        if task is None:
            return
        with self._lock:
            self._task = (asyncio.get_running_loop(), task)
        if self.requested.is_set():
            task.cancel()

    def stop(self) -> None:
        self.requested.set()
        with self._lock:
            if self._task is not None:
                loop, task = self._task
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # the loop has closed: the session is over
                    pass


async def _loaded(host: Host, timeout: float | None) -> list[str]:
    from llmbox.fleet._run import client_for

    async with client_for(host, timeout=timeout) as client:
        return [m.name or m.model for m in await client.ps()]


def _others(host: Host, models: Sequence[str], timeout: float | None) -> list[str]:
    """Models loaded on the host besides ``models`` (empty when ps cannot be asked)."""
    from llmbox.names import same_model

    try:
        loaded = asyncio.run(asyncio.wait_for(_loaded(host, timeout), timeout or None))
    except (LlmboxError, asyncio.TimeoutError, ValueError, OSError):
        return []
    return [n for n in loaded if not any(same_model(n, m) for m in models)]


def host_tags(host: Host, run_tag: str) -> dict[str, str]:
    """The fleet's tags on a host's stored report."""
    out = {"fleet_host": host.name, "fleet_run": run_tag}
    if host.groups:
        out["fleet_group"] = ",".join(host.groups)
    return out


def _store(
    result: HostBench, history: HistoryFor | None, run_tag: str, stopped: Callable[[], bool]
) -> None:
    """Save the host's report (what it measured, interrupted or not) with the fleet's tags."""
    report = result.report
    if history is None or report is None or not report.results:
        return
    if result.others_loaded:  # what an outlier's cause is read from, kept with the run
        report.machine = {**report.machine, "others_loaded": list(result.others_loaded)}
    try:
        mine = history(result.host, host_tags(result.host, run_tag), stopped)
        result.saved = mine.save(report)
    except LlmboxError as err:
        result.store_error = err


def _run_host(
    host: Host,
    opts: BenchOptions,
    gates: GateOptions,
    stop: _Stop,
    on_event: Callable[[Host, Event], None],
    checkpoint: Callable[[Host, BenchReport], None],
    ps_timeout: float | None,
    history: HistoryFor | None,
    run_tag: str,
) -> HostBench:
    from llmbox.bench.plan import build_plan
    from llmbox.bench.session import run_bench

    result = HostBench(host)
    if stop.requested.is_set():
        result.error = Interrupted("interrupted before this host started")
        return result
    models = list(opts.models)
    result.others_loaded = _others(host, models, ps_timeout)
    holder: list[BenchReport] = []

    def saved(report: BenchReport) -> None:
        if not holder:
            coordinator = report.machine.get("hostname")
            report.machine = {**host.facts(), "coordinator": coordinator}
            holder.append(report)
            stop.attach()
        checkpoint(host, report)

    try:
        plan = build_plan(replace(opts, host=host.url))
        outcome = run_bench(plan, gates, on_event=lambda e: on_event(host, e), checkpoint=saved)
        result.report, result.error = outcome.report, outcome.error
    except (asyncio.CancelledError, KeyboardInterrupt):
        result.report = holder[0] if holder else None
        result.error = Interrupted("interrupted")
    except LlmboxError as err:
        result.report = holder[0] if holder else None
        result.error = err
    except Exception as err:
        result.report = holder[0] if holder else None
        result.error = LlmboxError(
            f"{host.url}: unexpected {type(err).__name__}: {err}",
            hint="check that the URL points at Ollama; --debug shows more",
        )
    if not stop.requested.is_set():
        for name in _others(host, models, ps_timeout):
            if name not in result.others_loaded:
                result.others_loaded.append(name)
    _store(result, history, run_tag, stop.requested.is_set)
    return result


class _Signals:
    """While the fleet runs, SIGTERM in the main thread becomes a KeyboardInterrupt there (the
    sessions run in worker threads, where no signal arrives); afterwards, the old handler."""

    def __init__(self) -> None:
        self.terminated = False
        self._old: Any = None
        self._installed = False

    def _on_term(self, _signum: int, _frame: Any) -> None:
        self.terminated = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: the sessions are stopping
        raise KeyboardInterrupt

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._on_term)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._old)


def new_run_tag() -> str:
    """The ``fleet_run`` tag shared by one ``fleet bench``'s stored reports: its UTC start, to the
    microsecond like every report's ``started_at`` (two fleet runs begun in one second, from one
    CI matrix say, must not share a tag), e.g. ``20261130T071502.483911Z``."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def fleet_bench(
    hosts: Sequence[Host],
    opts: BenchOptions,
    gates: GateOptions,
    *,
    parallel: int = defaults.BENCH_PARALLEL,
    on_event: Callable[[Host, Event], None] = lambda _h, _e: None,
    checkpoint: Callable[[Host, BenchReport], None] = lambda _h, _r: None,
    on_done: Callable[[HostBench], None] = lambda _r: None,
    ps_timeout: float | None = 10.0,
    history: HistoryFor | None = None,
    run_tag: str | None = None,
) -> FleetBench:
    """Benchmark every host with the same options, ``parallel`` hosts at a time (0: all), one
    session per host. The options (and ``history``, where each host's report is saved as soon
    as it is done, tagged ``host_tags``) are checked once before any host starts (a UsageError
    or StoreError is raised); each host's own failure is kept in its ``HostBench``. Ctrl-C or
    SIGTERM stops every session (each saves its report as interrupted) and returns what was
    measured, ``interrupted`` (and ``terminated``)."""
    from llmbox.bench.plan import build_plan

    run_tag = run_tag or new_run_tag()
    if hosts:
        build_plan(replace(opts, host=hosts[0].url))  # bad options fail here, once
        if history is not None:
            history(hosts[0], host_tags(hosts[0], run_tag), lambda: False).check()  # a wrong --db
    stops = {h.name: _Stop() for h in hosts}
    workers = parallel if parallel > 0 else max(1, len(hosts))
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts) or 1)))
    futures: dict[str, Future[HostBench]] = {}

    def finished(future: Future[HostBench]) -> None:
        if not future.cancelled() and future.exception() is None:
            on_done(future.result())

    interrupted = False
    with _Signals() as signals:
        try:
            for h in hosts:
                args = (h, opts, gates, stops[h.name], on_event, checkpoint, ps_timeout)
                futures[h.name] = pool.submit(_run_host, *args, history, run_tag)
                futures[h.name].add_done_callback(finished)
            pending = set(futures.values())
            while pending:
                _, pending = wait(pending, timeout=0.2)
        except KeyboardInterrupt:
            interrupted = True
            for s in stops.values():
                s.stop()
            wait(futures.values())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    results = []
    for h in hosts:
        future = futures.get(h.name)
        if future is None or future.cancelled():
            results.append(HostBench(h, error=Interrupted("interrupted before this host started")))
        else:
            results.append(future.result())
    fleet = FleetBench(
        results,
        interrupted=interrupted,
        terminated=interrupted and signals.terminated,
        run_tag=run_tag if history is not None else None,
    )
    fleet.outliers = find_outliers(results)
    return fleet
