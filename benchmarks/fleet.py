"""Fleet: `llmbox fleet status` over 200 hosts from one process.

    python benchmarks/fleet.py [--quick] [--json]

A second process serves 200 Ollama-shaped hosts on loopback ports (asyncio, one socket each):
``/api/version``, ``/api/tags`` and ``/api/ps``, each answered after ``DELAY_S`` (a LAN and a busy
server), five of them after ``SLOW_S``. The status of a host takes three answers in a row, so the
slowest host needs at least ``3 × SLOW_S``; the figure is the fleet's wall time over that, with
llmbox asking 64 hosts at once (its default). Also measured: llmbox's CPU time per host, and the
open file descriptors after three more runs (a leak would grow them).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import Figure, log, main, open_fds

HOSTS = 200
DELAY_S = 0.05
SLOW_S = 0.25
SLOW_HOSTS = 5
BUDGET = 2.0  # the fleet's wall time / the slowest host's own time


async def _serve(count: int, delay: float, slow: float) -> None:
    answers = {
        "/api/version": {"version": "0.6.2"},
        "/api/tags": {"models": []},
        "/api/ps": {"models": []},
    }

    def handler(wait: float):  # type: ignore[no-untyped-def]
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    path = head.split(b" ", 2)[1].decode()
                    await asyncio.sleep(wait)
                    body = json.dumps(answers.get(path, {"error": "not found"})).encode()
                    status = b"200 OK" if path in answers else b"404 Not Found"
                    writer.write(
                        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, IndexError):
                pass
            finally:
                writer.close()

        return handle

    servers = [
        await asyncio.start_server(handler(slow if i < SLOW_HOSTS else delay), "127.0.0.1", 0)
        for i in range(count)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    sys.stdout.write("PORTS " + ",".join(map(str, ports)) + "\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes


def _inventory(ports: list[int], path: Path) -> None:
    lines = ["hosts:"]
    for i, port in enumerate(ports):
        lines += [f"  host-{i:03d}:", f"    url: http://127.0.0.1:{port}"]
    path.write_text("\n".join(lines) + "\n")


def measure(quick: bool) -> list[Figure]:
    from llmbox.fleet import fleet_status, load_inventory

    count = 20 if quick else HOSTS
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ports = [int(p) for p in line.split()[1].split(",")]
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llmbox-fleet-bench-{os.getpid()}.yaml"
        _inventory(ports, path)
        hosts = load_inventory(path).hosts
        asyncio.run(fleet_status(hosts))  # warm: imports, the first connections
        walls, slowest, cpu = [], [], []
        runs = 2 if quick else 5
        for _ in range(runs):
            c0, t0 = time.process_time(), time.perf_counter()
            status = asyncio.run(fleet_status(hosts))
            walls.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            slowest.append(max(s.elapsed_s for s in status.hosts))
            assert all(s.answered for s in status.hosts), "a host did not answer"
        fds = open_fds()
        for _ in range(3):
            asyncio.run(fleet_status(hosts))
        grown = open_fds() - fds
        path.unlink(missing_ok=True)
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)
    wall = sorted(walls)[len(walls) // 2]
    ideal = 3 * SLOW_S
    ratio = wall / ideal
    per_host_ms = 1000 * sorted(cpu)[len(cpu) // 2] / count
    log(
        f"fleet: {count} hosts, wall {wall:.2f} s (slowest host {max(slowest):.2f} s), "
        f"{per_host_ms:.2f} ms CPU/host"
    )
    answers = f"3 answers per host, {DELAY_S * 1000:.0f} ms each"
    answers += f" ({SLOW_HOSTS} hosts: {SLOW_S * 1000:.0f} ms)"
    return [
        Figure("Fleet", f"fleet status, {count} hosts: wall time (median of {runs})", wall, "s",
               note=answers),
        Figure("Fleet", f"fleet status, {count} hosts / slowest host's own {ideal:.2f} s", ratio,
               "×", f"≤ {BUDGET:g}×", ratio <= BUDGET, "64 hosts asked at once (the default)"),
        Figure("Fleet", "llmbox CPU time per host asked", per_host_ms, "ms"),
        Figure("Fleet", "open file descriptors growth over 3 more runs", grown, "fds", "0",
               grown <= 0),
    ]  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(_serve(int(sys.argv[2]), DELAY_S, SLOW_S))
        raise SystemExit(0)
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
