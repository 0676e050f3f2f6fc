"""benchmarks/report.py runs in its tiny configuration (timings are `make bench`'s, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_report_benchmark_runs_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "report.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert [f["section"] for f in figures] == ["Report"] * 3
    assert all(f["value"] and f["value"] > 0 for f in figures)
