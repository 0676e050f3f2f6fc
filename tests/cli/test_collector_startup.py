"""Start-up and exit do not spend their time in the cyclic collector (speed: benchmarks/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = """
import gc, json, sys
passes = []
gc.callbacks.append(lambda phase, info: passes.append(info["generation"]) if phase == "start" else None)
from llmbox.cli import main
sys.argv = ["llmbox", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write(json.dumps([len(passes), gc.get_freeze_count()]))
"""


def _run(*args: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    passes, frozen = json.loads(done.stderr.strip().splitlines()[-1])
    return passes, frozen


def test_start_up_runs_next_to_no_collections_and_exit_scans_nothing() -> None:
    # CPython's default threshold (700) starts ~40 passes while `llmbox history --help` imports
    # Typer, rich and the command; at exit it would scan the whole heap once more (~60 ms for a
    # bench on a 2-core VM). Frozen objects are skipped by that last pass.
    passes, frozen = _run("history", "--help")
    assert passes <= 3
    assert frozen > 10_000
