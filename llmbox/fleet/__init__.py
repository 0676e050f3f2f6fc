"""Fleets: many Ollama hosts operated and benchmarked as one.

    from llmbox.fleet import load_inventory, select, fleet_status, plan_fleet_sync, fleet_bench

    inv = load_inventory(Path("fleet.yaml"))          # llmbox's format or an Ansible inventory
    hosts = select(inv, ["group=stations"])            # --select label=value|group|host
    status = run(fleet_status(hosts))                  # every host at once, bounded

The core never draws: results are typed, with ``to_dict()`` for JSON; progress goes to callbacks.
Names load on first use, so ``llmbox fleet --help`` pays for none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbox.fleet._bench import FleetBench, HostBench, Outlier, find_outliers, fleet_bench
    from llmbox.fleet._inventory import Host, Inventory, load_inventory, select
    from llmbox.fleet._status import FleetStatus, HostStatus, fleet_status
    from llmbox.fleet._sync import FleetSync, HostSync, apply_fleet_sync, plan_fleet_sync

_WHERE = {
    "FleetBench": "_bench",
    "HostBench": "_bench",
    "Outlier": "_bench",
    "fleet_bench": "_bench",
    "find_outliers": "_bench",
    "Host": "_inventory",
    "Inventory": "_inventory",
    "load_inventory": "_inventory",
    "select": "_inventory",
    "FleetStatus": "_status",
    "HostStatus": "_status",
    "fleet_status": "_status",
    "FleetSync": "_sync",
    "HostSync": "_sync",
    "apply_fleet_sync": "_sync",
    "plan_fleet_sync": "_sync",
}

__all__ = [
    "FleetBench",
    "FleetStatus",
    "FleetSync",
    "Host",
    "HostBench",
    "HostStatus",
    "HostSync",
    "Inventory",
    "Outlier",
    "apply_fleet_sync",
    "find_outliers",
    "fleet_bench",
    "fleet_status",
    "load_inventory",
    "plan_fleet_sync",
    "select",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'llmbox.fleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"llmbox.fleet.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
