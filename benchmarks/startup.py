"""Start-up: ``llmbox --help``, every command's ``--help``, ``--version`` and ``hw-estimate``
against a bare Typer app's ``--help``.

    python benchmarks/startup.py [--quick] [--json]

Every command is run many times, interleaved (one of each per round, so drift in the machine's
speed hits all alike), as a fresh process through the same interpreter; medians are compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import HERE, Figure, log, main, median, server

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


# The command as users run it (``main``), with llmbox's collector threshold or with CPython's
# default; prints how many collector passes ran and the milliseconds they took.
_GC_CHILD = """
import gc, json, sys, time
passes, spent, t = [0], [0.0], [0.0]
def on_gc(phase, info):
    if phase == "start":
        t[0] = time.perf_counter()
    else:
        passes[0] += 1
        spent[0] += time.perf_counter() - t[0]
gc.callbacks.append(on_gc)
import llmbox.cli as cli
if sys.argv[1] == "default":  # CPython's threshold, and its whole-heap pass at exit
    cli.tune_collector = lambda: None
    gc.freeze = lambda: None
sys.argv = ["llmbox", *sys.argv[2:]]
try:
    cli.main()
except SystemExit:
    pass
sys.stderr.write(json.dumps([passes[0], spent[0] * 1000]) + "\\n")
"""


def measure_collector(rounds: int) -> list[Figure]:
    """A whole ``llmbox bench`` (pre-flight, one short request, --no-save) against the local fast
    server, with llmbox's collector settings (the threshold, no whole-heap pass at exit) and with
    CPython's defaults, interleaved."""
    with server("fast") as url:
        args = ["bench", "bench", "--host", url, "--runs", "1", "--warmup", "0",
                "--max-tokens", "8", "--prompt-tokens", "32", "--no-save"]  # fmt: skip

        def run(mode: str) -> tuple[float, int, float]:
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", _GC_CHILD, mode, *args],
                                  capture_output=True, text=True, check=False)  # fmt: skip
            wall = (time.perf_counter() - t0) * 1000
            if done.returncode != 0:
                raise RuntimeError(f"bench failed: {done.stderr[-2000:]}")
            passes, spent = json.loads(done.stderr.strip().splitlines()[-1])
            return wall, passes, spent

        run("tuned"), run("default")
        pairs = [(run("tuned"), run("default")) for _ in range(rounds)]
    ratio = median([a[0] / b[0] for a, b in pairs])
    tuned = [a for a, _ in pairs]
    default = [b for _, b in pairs]
    s = "Start-up"
    return [
        Figure(s, "bench: collector passes (llmbox's threshold / CPython's 700)",
               median([p for _, p, _ in tuned]), "passes",
               note=f"CPython's default: {median([p for _, p, _ in default]):.0f} passes, "
               f"{median([m for _, _, m in default]):.1f} ms of collecting (median of {rounds})"),
        Figure(s, "bench: whole command, llmbox's collector settings / CPython's defaults",
               ratio, "×",
               note=f"median of {rounds} interleaved pairs of fresh processes, pre-flight and one "
               f"request against the fast local server ({median([w for w, _, _ in default]):.0f}"
               " ms with the default)"),
    ]  # fmt: skip


def measure(quick: bool) -> list[Figure]:
    figures = measure_collector(rounds=3 if quick else 20)
    return figures + measure_commands(quick)


def measure_commands(quick: bool) -> list[Figure]:
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
