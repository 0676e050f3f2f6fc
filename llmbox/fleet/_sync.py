"""``fleet sync``: each host to its groups' model set, a few hosts at a time (a rolling update).

Each host is planned and applied with ``llmbox.provision`` exactly as ``llmbox sync`` does it, so
the prune rule holds per host: a host's prune runs only if that host's pulls succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbox.errors import ExitCode, LlmboxError
from llmbox.fleet import defaults
from llmbox.fleet._inventory import Host
from llmbox.fleet._run import client_for, each_host, error_text
from llmbox.provision import DEFAULT_RETRIES, PullEvent, SyncPlan, SyncReport, apply_sync, plan_sync

if TYPE_CHECKING:
    import httpx

#: A host's progress: (host, a pull event) while it syncs, (host, None) when it is done.
HostEvent = Callable[["HostSync", PullEvent | None], None]


def _ignore(_host: HostSync, _event: PullEvent | None) -> None:
    pass


@dataclass
class HostSync:
    """One host's sync: its plan, then what happened (``report``), or why it did not run."""

    host: Host
    plan: SyncPlan | None = None
    report: SyncReport | None = None
    error: LlmboxError | None = field(default=None, repr=False)
    skipped: str | None = None  # why nothing was done (no model set, stopped after a failure)

    @property
    def state(self) -> str:
        """``unreachable``, ``failed``, ``skipped``, ``planned``, ``in sync`` or ``synced``."""
        if self.skipped is not None:
            return "skipped"
        if self.error is not None:
            return "unreachable" if self.error.exit_code == ExitCode.UNREACHABLE else "failed"
        if self.report is not None:
            return "synced" if self.report.in_sync else "failed"
        if self.plan is not None:
            return "in sync" if self.plan.in_sync else "planned"
        return "skipped"

    @property
    def failed(self) -> bool:
        return self.state in ("unreachable", "failed")

    @property
    def reason(self) -> str:
        """A failure in a few words (the first failed step)."""
        if self.error is not None:
            return error_text(self.error)
        if self.report is not None:
            bad = [f"{m} {a}: {o}" for m, a, o in self.report.rows() if not o.startswith("ok")]
            if self.report.missing:
                bad.append(f"missing afterwards: {', '.join(self.report.missing)}")
            return "; ".join(bad[:3])
        return self.skipped or ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.host.name, "url": self.host.url, "state": self.state}
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
        if self.report is not None:
            data["result"] = self.report.to_dict()
        if self.failed or self.skipped:
            data["reason"] = self.reason
        return data


@dataclass
class FleetSync:
    hosts: list[HostSync]
    dry_run: bool = True

    @property
    def failed(self) -> list[HostSync]:
        return [h for h in self.hosts if h.failed]

    @property
    def exit_code(self) -> int:
        """0 every host done, 1 some failed (or were not reached), 3 no host answered."""
        tried = [h for h in self.hosts if h.skipped is None or h.plan is not None]
        if tried and all(h.state == "unreachable" for h in tried):
            return int(ExitCode.UNREACHABLE)
        return int(ExitCode.FAILURE) if self.failed else int(ExitCode.OK)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {"hosts": len(self.hosts)}
        for h in self.hosts:
            counts[h.state] = counts.get(h.state, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "summary": self.summary(),
            "failed": [h.host.name for h in self.failed],
            "hosts": [h.to_dict() for h in self.hosts],
        }


async def plan_fleet_sync(
    hosts: Sequence[Host],
    *,
    prune: bool,
    timeout: float | None = None,
    parallel: int = defaults.STATUS_PARALLEL,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FleetSync:
    """Every host's plan (what a sync would pull and remove), asked of every host at once."""

    async def plan(host: Host) -> HostSync:
        result = HostSync(host)
        spec = host.spec
        if spec is None:
            result.skipped = "no model set: none of its groups lists models"
            return result
        try:
            async with client_for(host, timeout=timeout, transport=transport) as client:
                result.plan = await plan_sync(client, spec, prune=prune, file=host.name)
        except LlmboxError as err:
            result.error = err
        return result

    return FleetSync(await each_host(hosts, plan, limit=parallel))


async def apply_fleet_sync(
    fleet: FleetSync,
    *,
    max_parallel: int = defaults.SYNC_PARALLEL,
    stop_on_failure: bool = False,
    retries: int | None = None,
    timeout: float | None = None,
    on_event: HostEvent = _ignore,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FleetSync:
    """Apply each planned host, ``max_parallel`` at a time. With ``stop_on_failure`` no host
    starts once one has failed (the ones running finish); the rest are ``skipped``."""
    fleet.dry_run = False
    stopped = asyncio.Event()
    if stop_on_failure and fleet.failed:
        stopped.set()  # a host failed while planning already

    async def apply(item: HostSync) -> HostSync:
        if item.plan is None:
            return item
        if stopped.is_set():
            item.skipped = "not started: an earlier host failed (--stop-on-failure)"
            return item
        try:
            async with client_for(item.host, timeout=timeout, transport=transport) as client:
                item.report = await apply_sync(
                    client,
                    item.plan,
                    on_event=lambda e: on_event(item, e),
                    retries=DEFAULT_RETRIES if retries is None else retries,
                )
        except LlmboxError as err:
            item.error = err
        if item.failed and stop_on_failure:
            stopped.set()
        on_event(item, None)
        return item

    await each_host_items(fleet.hosts, apply, limit=max_parallel)
    return fleet


async def each_host_items(
    items: Sequence[HostSync], work: Callable[[HostSync], Any], *, limit: int
) -> None:
    by_name = {i.host.name: i for i in items}
    await each_host([i.host for i in items], lambda h: work(by_name[h.name]), limit=limit)
