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


@pytest.mark.parametrize(
    "name",
    [
        "startup",
        "stream",
        "concurrency",
        "accuracy",
        "arrivals",
        "memory",
        "store",
        "report",
        "fleet",
    ],
)
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
