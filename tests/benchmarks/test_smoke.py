"""Each benchmark script runs in its tiny configuration, so the scripts cannot rot.

No timing is asserted here: budgets are measured by `make bench`, not tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run_all_modules() -> tuple[str, ...]:
    """The scripts `make bench` runs (benchmarks/run_all.py's MODULES): one list, not two."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all

        return tuple(run_all.MODULES)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("name", _run_all_modules())
def test_benchmark_runs_quick(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures
    for f in figures:
        assert {"section", "name", "value", "unit", "budget", "holds", "note"} <= f.keys()
