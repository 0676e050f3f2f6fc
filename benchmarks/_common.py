"""What the benchmark scripts share: the Figure type, statistics, CLI flags and local servers.

Every benchmark module is a script (``python benchmarks/startup.py [--quick] [--json]``) whose
``measure(quick)`` returns a list of Figures; ``run_all.py`` runs each in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER = HERE / "_servers.py"
SERVER_LIFETIME_S = 600  # a server left behind by a crashed run exits by itself


@dataclass
class Figure:
    """One measured figure and its budget. ``holds`` is None when there is no budget to hold
    (an informational figure) or the figure could not be measured (``value`` None)."""

    section: str
    name: str
    value: float | None
    unit: str
    budget: str = ""
    holds: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "not measured"
        v = self.value
        text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return f"{text} {self.unit}".strip()


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def main(measure: Callable[[bool], list[Figure]], description: str) -> int:
    """Parse ``--quick``/``--json``, measure, print figures (JSON or a plain table) on stdout."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a tiny configuration (smoke test)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.quick)
    if args.json:
        sys.stdout.write(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    else:
        for f in figures:
            verdict = {True: "holds", False: "OVER BUDGET", None: ""}[f.holds]
            sys.stdout.write(f"{f.name:<58} {f.shown():>16}  {f.budget:<12} {verdict}\n")
    return 0


# -- the local servers (benchmarks/_servers.py in a process of its own) ---------------------------


@contextmanager
def server(mode: str, *args: str) -> Iterator[str]:
    """Start ``_servers.py MODE ARGS`` on 127.0.0.1; yield its base URL; stop it on exit.

    The server exits when its stdin closes (this process ended) or after SERVER_LIFETIME_S.
    """
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), mode, "--lifetime", str(SERVER_LIFETIME_S), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def truths(base: str) -> list[dict[str, Any]]:
    """The server's own record of each streamed request since the last call (then cleared)."""
    import httpx

    response = httpx.get(base + "/_truths", timeout=10, trust_env=False)
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()
    return data


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    """Current resident set size (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_script(name: str, *args: str, timeout: float = 600) -> list[dict[str, Any]]:
    """Run ``benchmarks/NAME.py --json ARGS`` in a fresh process; its figures as dicts."""
    done = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name}.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: list[dict[str, Any]] = json.loads(done.stdout)
    return figures
