"""Start-up: ``llmbox --help``, every command's ``--help``, ``--version`` and ``hw-estimate``
against a bare Typer app's ``--help``.

    python benchmarks/startup.py [--quick] [--json]

Every command is run many times, interleaved (one of each per round, so drift in the machine's
speed hits all alike), as a fresh process through the same interpreter; medians are compared.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import HERE, Figure, log, main, median

from llmbox.cli import COMMANDS as LLMBOX_COMMANDS  # the command table only: no Typer imported

_SCRIPT = Path(sys.executable).with_name("llmbox")  # the console script users run
LLMBOX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "llmbox"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "bare Typer --help": [sys.executable, str(HERE / "bare_typer.py"), "--help"],
    "llmbox --help": [*LLMBOX, "--help"],
    "llmbox --version": [*LLMBOX, "--version"],
    "llmbox hw-estimate": [*LLMBOX, "hw-estimate", "--chip", "m4pro", "--model", "llama3.2:3b"],
    **{f"llmbox {name} --help": [*LLMBOX, name, "--help"] for name in LLMBOX_COMMANDS},
}
#: Ratios to the bare Typer app's ``--help`` (issue 10, item 19).
BUDGETS = {
    "llmbox --help": 1.2,
    "llmbox --version": 0.6,
    "llmbox hw-estimate": 1.5,
    **{f"llmbox {name} --help": 1.3 for name in LLMBOX_COMMANDS},
}


def _time(cmd: list[str]) -> float | None:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    return elapsed if done.returncode == 0 else None


def measure(quick: bool) -> list[Figure]:
    rounds = 1 if quick else 10
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    failed: set[str] = set()
    for name, cmd in COMMANDS.items():  # one untimed run each: warm the page cache
        if _time(cmd) is None:
            failed.add(name)
            log(f"startup: {name!r} failed; not measurable")
    for r in range(rounds):
        for name, cmd in COMMANDS.items():
            if name not in failed and (t := _time(cmd)) is not None:
                times[name].append(t)
        if r % 5 == 4:
            log(f"startup: round {r + 1}/{rounds}")
    med = {name: median(ts) * 1000 for name, ts in times.items() if ts}
    s = "Start-up"
    note = f"median of {rounds} interleaved runs"
    figures = [
        Figure(s, f"{name} (median wall)", med.get(name), "ms", note=note)
        for name in ("python -c pass", "bare Typer --help")
    ]
    bare = med.get("bare Typer --help")
    for name, budget in BUDGETS.items():
        figures.append(Figure(s, f"{name} (median wall)", med.get(name), "ms", note=note))
        ratio = med[name] / bare if bare and name in med else None
        figures.append(
            Figure(
                s,
                f"{name} / bare Typer --help",
                ratio,
                "×",
                f"≤ {budget}×",
                None if ratio is None else ratio <= budget,
                "" if ratio is not None else "command failed: not measurable",
            )
        )
    return figures


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
