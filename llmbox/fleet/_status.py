"""``fleet status``: every host asked at once (bounded), each within its own time limit, and the
hosts that differ from their group called out."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbox.doctor import LoadedModel, Problem, diagnose
from llmbox.errors import ExitCode, ServerUnreachable, UsageError
from llmbox.fleet import defaults
from llmbox.fleet._inventory import Host
from llmbox.fleet._run import client_for, each_host, error_text, unreachable_fix
from llmbox.provision import missing_models

if TYPE_CHECKING:
    import httpx


@dataclass
class HostStatus:
    """One host's health. ``deviations``: how it differs from its group (or the fleet)."""

    host: Host
    reachable: bool = False
    version: str | None = None
    installed: list[str] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    gpu_bytes: int | None = None  # what the GPU may use, from the machine facts
    elapsed_s: float = 0.0

    @property
    def answered(self) -> bool:
        """It answered like Ollama (reachable, with a version)."""
        return self.reachable and self.version is not None

    @property
    def healthy(self) -> bool:
        return self.answered and not self.problems and not self.deviations

    @property
    def vram_used(self) -> int:
        return sum(m.size_vram for m in self.loaded)

    @property
    def vram_free(self) -> int | None:
        return None if self.gpu_bytes is None else max(0, self.gpu_bytes - self.vram_used)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.host.name,
            "url": self.host.url,
            "groups": list(self.host.groups),
            "labels": dict(self.host.labels),
            "reachable": self.reachable,
            "healthy": self.healthy,
            "version": self.version,
            "installed": list(self.installed),
            "loaded": [
                {
                    "name": m.name,
                    "size": m.size,
                    "size_vram": m.size_vram,
                    "processor": m.processor,
                    "context_length": m.context_length,
                }
                for m in self.loaded
            ],
            "vram_used": self.vram_used,
            "vram_free": self.vram_free,
            "problems": [{"what": p.what, "advice": p.advice} for p in self.problems],
            "deviations": list(self.deviations),
            "elapsed_s": round(self.elapsed_s, 4),
        }


@dataclass
class FleetStatus:
    hosts: list[HostStatus]
    elapsed_s: float = 0.0

    @property
    def reachable(self) -> list[HostStatus]:
        return [h for h in self.hosts if h.answered]

    @property
    def exit_code(self) -> int:
        """0 every host healthy, 1 some host needs attention, 3 no host answered."""
        if not self.reachable:
            return int(ExitCode.UNREACHABLE)
        return int(ExitCode.OK) if all(h.healthy for h in self.hosts) else int(ExitCode.FAILURE)

    def summary(self) -> dict[str, int]:
        return {
            "hosts": len(self.hosts),
            "reachable": len(self.reachable),
            "healthy": sum(h.healthy for h in self.hosts),
            "unreachable": sum(not h.answered for h in self.hosts),
            "deviating": sum(bool(h.deviations) for h in self.hosts),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "elapsed_s": round(self.elapsed_s, 4),
            "hosts": [h.to_dict() for h in self.hosts],
        }


def gpu_budget(host: Host) -> int | None:
    """Bytes the host's GPU may use, from its chip and memory facts (None when unknown)."""
    if host.chip is None or host.memory_gb is None:
        return None
    from llmbox.hw.chips import load_catalog

    catalog = load_catalog()
    chip = catalog.chips.get(host.chip)
    if chip is None:
        return None
    return int(host.memory_gb * catalog.gpu_share(chip, host.memory_gb) * 2**30)


async def host_status(
    host: Host, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
) -> HostStatus:
    """Ask one host; never raises for the host's own failures (they become problems)."""
    status = HostStatus(host)
    t0 = time.perf_counter()
    try:
        async with client_for(host, timeout=timeout, transport=transport) as client:
            report = await asyncio.wait_for(diagnose(client, {}), timeout)
    except asyncio.TimeoutError:
        status.problems.append(
            Problem(
                f"no answer from {host.url} within {timeout:g} s",
                "check the host (is it overloaded or hung?) or raise --timeout",
            )
        )
    except Exception as err:
        status.problems.append(
            Problem(
                f"{host.url} answered unlike Ollama ({type(err).__name__}: {err})",
                "check that the URL points at Ollama (not a proxy or another server)",
            )
        )
    else:
        status.reachable = report.reachable
        status.version = report.version
        status.installed = report.models
        status.loaded = report.loaded
        status.problems = report.problems
        error = report.error
        if isinstance(error, ServerUnreachable):
            status.problems = [Problem(error_text(error), unreachable_fix(error, host.url))]
    status.elapsed_s = time.perf_counter() - t0
    status.gpu_bytes = gpu_budget(host)
    return status


def _most_common(values: Sequence[str]) -> str | None:
    counts = Counter(values).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None  # no majority to compare with
    return counts[0][0]


def call_out(statuses: Sequence[HostStatus]) -> None:
    """Fill ``deviations``: a version other than its group's (or the fleet's) usual one, a model of
    its group's set missing, a model that spilled to the CPU (pure)."""
    peers: dict[str, list[HostStatus]] = {}
    for s in statuses:
        for group in s.host.groups or ("",):
            peers.setdefault(group, []).append(s)
    for s in statuses:
        if not s.answered:
            continue
        for group in s.host.groups or ("",):
            usual = _most_common([p.version or "" for p in peers[group] if p.answered])
            if usual is not None and s.version != usual:
                where = f"group {group}" if group else "the fleet"
                note = f"version {s.version}; {where} runs {usual}"
                if note not in s.deviations:
                    s.deviations.append(note)
        wanted = [m.name for m in s.host.models]
        for model in missing_models(wanted, s.installed):
            s.deviations.append(f"{model} missing (its group's model set)")
        for m in s.loaded:
            if m.size > 0 and m.size_vram < m.size:
                s.deviations.append(f"{m.name} spilled to the CPU ({m.processor})")


async def fleet_status(
    hosts: Sequence[Host],
    *,
    parallel: int = defaults.STATUS_PARALLEL,
    timeout: float = defaults.STATUS_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FleetStatus:
    """Every host's status, ``parallel`` at a time, each within ``timeout`` seconds."""
    if not (0.1 <= timeout < math.inf):  # also nan
        raise UsageError(
            f"--timeout must be at least 0.1 seconds (and finite), not {timeout:g}",
            hint=f"e.g. --timeout {defaults.STATUS_TIMEOUT_S:g}; status asks every host, so it "
            "needs a bound",
        )
    t0 = time.perf_counter()
    statuses = await each_host(
        hosts, lambda h: host_status(h, timeout=timeout, transport=transport), limit=parallel
    )
    call_out(statuses)
    return FleetStatus(statuses, time.perf_counter() - t0)
