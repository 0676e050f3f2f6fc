"""A bench's save skips the disk flush on commit (it closes right after): the close must still
leave the run durable in the database file itself, with no log left behind."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from llmbox.results import BenchReport
from llmbox.store.bench import StoreHistory, wait_for_closes
from tests.store.reports import report


def test_a_saved_run_is_in_the_database_file_once_the_bench_has_closed_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}", tags=["git=abc123"])
    history.check()
    saved = history.save(BenchReport.parse(report()))
    assert saved is not None
    wait_for_closes()
    assert not (tmp_path / "h.db-wal").exists()  # checkpointed into the file and removed
    # the file alone (as a backup copy would take it) holds the run
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT id FROM runs").fetchall() == [(saved.id,)]
        assert conn.execute("SELECT key, value FROM tags").fetchall() == [("git", "abc123")]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_a_store_another_process_holds_open_gets_the_run_too(tmp_path: Path) -> None:
    # Not the last connection: the close does not checkpoint; the run is in the log, and every
    # reader (and the next checkpoint, which flushes the log first) sees it.
    db = tmp_path / "h.db"
    StoreHistory(f"sqlite:///{db}").check()
    wait_for_closes()
    other = sqlite3.connect(db)
    try:
        history = StoreHistory(f"sqlite:///{db}")
        history.check()
        saved = history.save(BenchReport.parse(report()))
        assert saved is not None
        wait_for_closes()
        assert other.execute("SELECT id FROM runs").fetchall() == [(saved.id,)]
        assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        other.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    finally:
        conn.close()


_EXIT_RIGHT_AFTER = """
import json, sys
from llmbox.results import BenchReport
from llmbox.store.bench import StoreHistory
history = StoreHistory(sys.argv[1])
history.check()
print(history.save(BenchReport.parse(json.loads(sys.stdin.read()))).id)
"""


def test_a_process_that_exits_right_after_the_save_waits_for_its_close(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    db = tmp_path / "h.db"
    done = subprocess.run([sys.executable, "-c", _EXIT_RIGHT_AFTER, f"sqlite:///{db}"],
                          input=json.dumps(report()), capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert not (tmp_path / "h.db-wal").exists()  # the close's checkpoint ran to its end
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT id FROM runs").fetchall() == [(int(done.stdout),)]
    finally:
        conn.close()


_SLOW_CLOSE = """
import json, sys, time
from llmbox.results import BenchReport
from llmbox.store import _store
from llmbox.store.bench import StoreHistory
closing = _store.Store.close
def slow_close(self):
    time.sleep(3)  # a checkpoint on a slow network disk
    closing(self)
_store.Store.close = slow_close
history = StoreHistory(sys.argv[1])
history.check()
print(history.save(BenchReport.parse(json.loads(sys.stdin.read()))).id, flush=True)
"""


def test_ctrl_c_while_the_close_finishes_at_exit_is_quiet_and_loses_nothing(
    tmp_path: Path,
) -> None:
    import json
    import signal
    import subprocess
    import sys

    db = tmp_path / "h.db"
    with subprocess.Popen([sys.executable, "-c", _SLOW_CLOSE, f"sqlite:///{db}"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:  # fmt: skip
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdin.write(json.dumps(report()))
        proc.stdin.close()
        run_id = int(proc.stdout.readline())  # saved; the process now waits for its close
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=60)
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    conn = sqlite3.connect(db)  # the committed run is there, log or not
    try:
        assert conn.execute("SELECT id FROM runs").fetchall() == [(run_id,)]
    finally:
        conn.close()
