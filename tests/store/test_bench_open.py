"""A bench opens its SQLite store beside the first warm-ups (the server is busy answering them
and nothing is measured), so that loading SQLite and opening the file add nothing to the run.
A store that only fails once opened stops the bench before its first measured request; what
can be told without opening it is refused before the first request of all."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import llmbox.store
from llmbox.cli import app
from llmbox.store import _store
from llmbox.store.bench import _Opening
from tests.fakes.ollama import FakeOllama, Fault

runner = CliRunner()


def _measured(requests: list[dict[str, Any]]) -> int:
    """Measured requests among ``requests``: the model's runs after the ``/api/ps`` that ends
    the warm-ups (calibration probes and warm-up runs come before it)."""
    paths = [r["path"] for r in requests]
    if "/api/ps" not in paths:
        return 0
    return sum(1 for p in paths[paths.index("/api/ps") :] if p in ("/api/chat", "/api/generate"))


@pytest.fixture
def bench(fake_ollama: FakeOllama) -> list[str]:
    return ["bench", "llama3.2", "--runs", "3", "--max-tokens", "8", "--host", fake_ollama.url]


def test_the_store_is_opened_on_another_thread_while_the_warm_up_runs(
    bench: list[str], tmp_path: Path, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[int, int]] = []  # (thread, requests the server had seen)
    real = _store.open_store

    def watched(url: str | None = None, **kwargs: Any) -> _store.Store:
        opened.append((threading.get_ident(), len(fake_ollama.requests)))
        return real(url, **kwargs)

    monkeypatch.setattr(llmbox.store, "open_store", watched)
    monkeypatch.setattr(_Opening, "HEAD_START_S", 0.0)  # (the fake answers within 10 ms)
    fake_ollama.inject(Fault("/api/chat", "slow", delay_s=0.3))  # a slow warm-up
    db = tmp_path / "h.db"
    result = runner.invoke(app, [*bench, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "saved as run 1" in result.stderr
    assert len(opened) == 1  # one open, used for the save
    thread, seen = opened[0]
    assert thread != threading.get_ident()
    assert _measured(fake_ollama.requests[:seen]) == 0  # beside the warm-up, before measuring
    assert _measured(fake_ollama.requests) == 3


def test_a_store_that_fails_once_opened_stops_the_bench_before_its_measured_runs(
    bench: list[str], tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    db = tmp_path / "h.db"
    conn = sqlite3.connect(db)  # a SQLite file of another program's
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    out = tmp_path / "run.json"
    result = runner.invoke(app, [*bench, "--db", str(db), "-o", f"json:{out}"])
    assert result.exit_code == 6, result.output
    assert "another program's tables" in result.stderr
    assert "or bench with --no-save" in result.stderr
    assert "Traceback" not in result.output
    assert _measured(fake_ollama.requests) == 0  # it warmed up; none of the 3 measured runs
    conn = sqlite3.connect(db)
    try:  # the file is left as it was
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"name: my fleet\nhosts: []\n" * 10, "not an llmbox history database")],
)
def test_what_can_be_told_without_opening_the_store_stops_before_the_first_request(
    bench: list[str], tmp_path: Path, fake_ollama: FakeOllama, content: bytes, message: str
) -> None:
    db = tmp_path / "fleet.db"  # a text file named like a database
    db.write_bytes(content)
    result = runner.invoke(app, [*bench, "--db", str(db)])
    assert result.exit_code == 6, result.output
    assert message in result.stderr
    assert [r["path"] for r in fake_ollama.requests] == []
    assert db.read_bytes() == content  # not overwritten (SQLite would take a short one over)


def test_without_warm_ups_the_store_is_opened_and_the_run_saved(
    bench: list[str], tmp_path: Path
) -> None:
    db = tmp_path / "sub" / "dir" / "h.db"  # directories made as before
    result = runner.invoke(app, [*bench, "--warmup", "0", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "saved as run 1" in result.stderr
    listed = runner.invoke(app, ["history", "--db", str(db), "-f", "json"])
    assert listed.exit_code == 0, listed.output
    assert '"id": 1' in listed.stdout


def test_waiting_before_the_thread_began_opens_the_store_on_the_waiting_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Opening, "HEAD_START_S", 5.0)
    threads: list[int] = []
    real = _store.open_store

    def watched(url: str | None = None, **kwargs: Any) -> _store.Store:
        threads.append(threading.get_ident())
        return real(url, **kwargs)

    monkeypatch.setattr(llmbox.store, "open_store", watched)
    opening = _Opening(f"sqlite:///{tmp_path / 'h.db'}")
    started = time.monotonic()
    store = opening.wait()
    try:
        assert time.monotonic() - started < 2  # not after the head start
        assert threads == [threading.get_ident()]
        assert opening.wait() is store  # the save gets the same store
    finally:
        store.close()


def test_a_rehearsed_save_leaves_nothing_and_never_waits_for_a_lock(tmp_path: Path) -> None:
    from llmbox.results import BenchReport
    from llmbox.store import open_store
    from tests.store.reports import report

    db = tmp_path / "h.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.rehearse()
        counts = "SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM results) + " \
                 "(SELECT COUNT(*) FROM samples) + (SELECT COUNT(*) FROM tags)"  # fmt: skip
        assert store.engine.query(counts) == [(0,)]
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        started = time.monotonic()
        store.rehearse()
        assert time.monotonic() - started < 1  # not the 30 s a save would wait
        other.execute("ROLLBACK")
        other.close()
        saved = store.save(BenchReport.parse(report()), tags={"git": "abc"})  # then a real one
        assert saved.id == 1
        assert store.engine.query("SELECT key, value FROM tags") == [("git", "abc")]
    finally:
        store.close()


def test_a_db_under_a_directory_that_cannot_be_made_is_refused_before_any_request(
    bench: list[str], fake_ollama: FakeOllama
) -> None:
    db = Path("/proc/llmbox-no-such-dir/h.db")  # /proc: no blocks free, and no mkdir
    result = runner.invoke(app, [*bench, "--db", str(db)])
    assert result.exit_code == 6, result.output
    assert f"cannot open the history database {db}" in result.stderr
    assert "disk is full" not in result.stderr  # /proc is not a full disk
    assert fake_ollama.requests == []
