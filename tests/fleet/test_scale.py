"""`fleet status` against 55 fake servers in this process: some down, some slow, one answering
HTML, one with an old version. Bounded and timed: within about twice the slowest healthy host."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.fleet import fleet_status, load_inventory
from tests.fleet.fleet import Fleet, fleet, slow

HEALTHY = 50
SLOW_S = 0.4  # each answer of a slow host waits this long (three answers: ~1.2 s in all)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Path]]:
    with fleet() as f:
        for i in range(HEALTHY):
            f.add(f"st-{i:02d}", labels={"line": "a" if i % 2 else "b"}, chip="m2", memory_gb=16)
        for name in ("st-07", "st-21", "st-33"):
            slow(f.servers[name], SLOW_S)
        f.servers["st-40"].version = "0.1.32"
        for i in range(3):
            f.add_down(f"down-{i}")
        f.add_html("router")
        f.groups = {"stations": {"hosts": [f"st-{i:02d}" for i in range(HEALTHY)]}}
        yield f, f.write(tmp_path_factory.mktemp("fleet") / "fleet.yaml")


def test_status_of_55_hosts_is_bounded_by_the_slowest_healthy_host(big: tuple[Fleet, Path]) -> None:
    _f, path = big
    hosts = load_inventory(path).hosts
    assert len(hosts) >= 54
    t0 = time.perf_counter()
    status = asyncio.run(fleet_status(hosts, timeout=5))
    wall = time.perf_counter() - t0
    by = {s.host.name: s for s in status.hosts}
    slowest = max(s.elapsed_s for s in status.hosts if s.answered)
    assert slowest >= 3 * SLOW_S  # the slow hosts really were slow
    assert wall < 2 * slowest, f"{wall:.2f} s for the fleet, slowest healthy host {slowest:.2f} s"
    assert [n for n, s in by.items() if not s.answered] == ["down-0", "down-1", "down-2", "router"]
    assert "nothing answers" in by["down-0"].problems[0].what
    assert "HTML page" in by["router"].problems[0].what
    assert by["st-40"].deviations == ["version 0.1.32; group stations runs 0.33.0-rc2"]
    assert by["st-07"].healthy
    assert by["st-00"].vram_free is not None
    assert status.exit_code == 1


def test_no_file_descriptor_leaks_across_runs(big: tuple[Fleet, Path]) -> None:
    _, path = big
    hosts = load_inventory(path).hosts
    asyncio.run(fleet_status(hosts, timeout=5))  # warm: lazy imports, catalog cache
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        asyncio.run(fleet_status(hosts, timeout=5))
    time.sleep(0.2)  # the fake servers close their side of the connections
    assert len(os.listdir("/proc/self/fd")) <= before + 2


def test_cli_status_json_and_exit_codes(big: tuple[Fleet, Path]) -> None:
    _, path = big
    runner = CliRunner()
    done = runner.invoke(app, ["fleet", "status", "-i", str(path), "-s", "line=b", "-f", "json"])
    assert done.exit_code == 1, done.output  # st-40 runs an old version
    data = json.loads(done.stdout)
    assert data["summary"]["hosts"] == 25
    assert data["summary"]["reachable"] == 25
    done = runner.invoke(app, ["fleet", "status", "-i", str(path), "-s", "st-0[0-5]"])
    assert done.exit_code == 0, done.output
    assert "6 host(s): 6 healthy" in done.stdout
    done = runner.invoke(app, ["fleet", "status", "-i", str(path), "-s", "down-*"])
    assert done.exit_code == 3
    assert "down-1: nothing answers at" in done.stdout


def test_cli_bad_select_and_inventory(big: tuple[Fleet, Path], tmp_path: Path) -> None:
    _, path = big
    runner = CliRunner()
    done = runner.invoke(app, ["fleet", "status", "-i", str(path), "-s", "staions"])
    assert done.exit_code == 2
    assert "did you mean stations" in done.stderr
    done = runner.invoke(app, ["fleet", "status", "-i", str(tmp_path / "nope.yaml")])
    assert done.exit_code == 2
    assert "no inventory at" in done.stderr
    assert "Traceback" not in done.output


def test_a_hung_host_costs_the_timeout_not_more(tmp_path: Path) -> None:
    with fleet() as f:
        f.add("ok")
        f.add_silent("hung")
        path = f.write(tmp_path / "fleet.yaml")
        t0 = time.perf_counter()
        done = CliRunner().invoke(app, ["fleet", "status", "-i", str(path), "--timeout", "1"])
        wall = time.perf_counter() - t0
    assert done.exit_code == 1
    assert "hung" in done.stdout
    assert wall < 3
