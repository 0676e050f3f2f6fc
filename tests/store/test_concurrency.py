"""Many writers at once lose nothing: 8 processes × 50 runs each, into SQLite (WAL) and into
PostgreSQL, all started against a store that does not exist yet (so they race to create it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmbox.store import RunFilter, open_store

PROCESSES = 8
RUNS_EACH = 50

WRITER = """
import sys
from datetime import timedelta
from llmbox.store import open_store
from tests.store.reports import T0, report

url, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdin.readline()  # start together
with open_store(url) as store:
    for i in range(count):
        data = report(started=T0 + timedelta(minutes=writer * 1000 + i), seed=writer * 1000 + i)
        assert store.save(data, tags={"writer": str(writer), "i": str(i)}).created
print("done")
"""


def _hammer(url: str) -> None:
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(w), str(RUNS_EACH)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    outputs = [p.communicate("go\n", timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert out.strip() == "done"


def _check(url: str) -> None:
    with open_store(url) as store:
        assert store.count() == PROCESSES * RUNS_EACH
        runs = store.runs()
        got = {(r.tags["writer"], r.tags["i"]) for r in runs}
        assert got == {(str(w), str(i)) for w in range(PROCESSES) for i in range(RUNS_EACH)}
        q = store.engine.query
        assert q("SELECT COUNT(*) FROM results")[0][0] == PROCESSES * RUNS_EACH
        assert q("SELECT COUNT(*) FROM samples")[0][0] == PROCESSES * RUNS_EACH * 5
        assert q("SELECT COUNT(*) FROM summaries")[0][0] == PROCESSES * RUNS_EACH * 6
        assert q("SELECT COUNT(*) FROM schema_version")[0][0] >= 1
        assert len(store.points(RunFilter(), ["decode_tps"])) == PROCESSES * RUNS_EACH


def test_eight_writers_into_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    _hammer(url)
    _check(url)


def test_eight_writers_into_postgresql(pg_url: str) -> None:
    _hammer(pg_url)
    _check(pg_url)
