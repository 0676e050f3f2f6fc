"""A bench's save skips the disk flush on commit (it closes right after): the close must still
leave the run durable in the database file itself, with no log left behind."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

from llmbox.results import BenchReport
from llmbox.store.bench import StoreHistory
from tests.store.reports import report


def _wait_for_the_close() -> None:
    for thread in threading.enumerate():
        if thread.name == "llmbox-store-close":
            thread.join(timeout=30)


def test_a_saved_run_is_in_the_database_file_once_the_bench_has_closed_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}", tags=["git=abc123"])
    history.check()
    saved = history.save(BenchReport.parse(report()))
    assert saved is not None
    _wait_for_the_close()
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
    _wait_for_the_close()
    other = sqlite3.connect(db)
    try:
        history = StoreHistory(f"sqlite:///{db}")
        history.check()
        saved = history.save(BenchReport.parse(report()))
        assert saved is not None
        _wait_for_the_close()
        assert other.execute("SELECT id FROM runs").fetchall() == [(saved.id,)]
        assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        other.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    finally:
        conn.close()
