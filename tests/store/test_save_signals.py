"""A bench saving into a store another process holds: Ctrl-C or SIGTERM stops it at once (not
after the 30 s wait for the lock), prints its results, keeps them in a file the error names,
and exits 130 or 143; in SQLite and in PostgreSQL (where the wait was endless, and a SIGTERM
left psycopg logging a failed rollback)."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.errors import StoreError
from llmbox.results import BenchReport
from llmbox.store import open_store
from llmbox.store.bench import StoreHistory
from tests.fakes.ollama import FakeOllama
from tests.store.reports import report

# Ctrl-C as a terminal sends it, even where the test runs with SIGINT ignored (a background job).
_MAIN = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from llmbox.cli import main; main()"
)
_SIGNALS = [
    (signal.SIGINT, 130, "interrupted while saving the run"),
    (signal.SIGTERM, 143, "terminated by SIGTERM while saving the run"),
]


@contextlib.contextmanager
def _held(url: str) -> Iterator[None]:
    """The store at ``url`` (created here) locked against writers by this process."""
    open_store(url).close()
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:  # a transaction, until the block ends
        pg.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        yield
        pg.rollback()


def _bench_signalled_while_saving(
    url: str, cwd: Path, host: str, signum: int
) -> tuple[int, str, str, float]:
    """Run a bench whose store is locked, send ``signum`` once its only case has finished (the
    save is waiting for the lock); its exit code, stdout, stderr and how long it took to exit
    after the signal."""
    with _held(url):
        proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "bench", "llama3.2", "--runs", "2", "--max-tokens", "8",
             "--prompt-tokens", "16", "--host", host, "--db", url],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # progress: the case's summary line comes before the save
            seen.append(line)
            if "decode" in line and "tok/s" in line:
                break
        else:
            raise AssertionError(f"the bench ended before its case: {''.join(seen)}")
        time.sleep(0.5)  # into the save's wait for the lock
        sent = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, "".join(seen) + err, time.monotonic() - sent


@pytest.mark.parametrize(("signum", "code", "words"), _SIGNALS)
def test_a_signal_during_a_locked_save_stops_at_once_and_keeps_the_results(
    fake_ollama: FakeOllama, store_url: str, tmp_path: Path, signum: int, code: int, words: str
) -> None:
    returncode, out, err, took = _bench_signalled_while_saving(
        store_url, tmp_path, fake_ollama.url, signum
    )
    assert returncode == code, err
    assert took < 10, f"exited {took:.1f} s after the signal"  # the wait is 30 s
    assert "decode t/s" in out  # the table is printed
    assert words in err, err
    assert "the results are kept in" in err
    kept = [w for w in err.split() if w.startswith("llmbox-bench-") and w.endswith(".json")]
    assert kept, err
    assert json.loads((tmp_path / kept[0]).read_text())["results"]
    assert "Traceback" not in err
    assert "error ignored" not in err  # psycopg's failed rollback
    with open_store(store_url) as store:
        assert store.count() == 0  # … and indeed not saved


def test_a_save_into_a_locked_store_gives_up_after_the_wait(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.5)
    with _held(store_url):
        history = StoreHistory(store_url)
        history.check()
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"is locked by another (process|session)"):
            history.save(BenchReport.parse(report()))
        assert time.monotonic() - started < 10  # PostgreSQL's wait was endless


def test_a_bench_into_a_locked_postgresql_store_keeps_its_results(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.5)
    monkeypatch.chdir(tmp_path)
    with _held(pg_url):
        done = CliRunner().invoke(
            app, ["bench", "llama3.2", "--runs", "2", "--max-tokens", "8", "--host",
                  fake_ollama.url, "--db", pg_url],
        )  # fmt: skip
    assert done.exit_code == 6, done.output
    assert "locked by another session" in done.stderr
    assert "the results are kept in llmbox-bench-" in done.stderr
    assert "decode t/s" in done.stdout


def test_a_stopped_fleet_hosts_save_gives_up_waiting_for_a_locked_store(tmp_path: Path) -> None:
    # A fleet saves each host's report on a worker thread, where no signal arrives: the fleet's
    # stop is asked between the steps of the wait instead (it waited out all 30 s).
    url = f"sqlite:///{tmp_path / 'h.db'}"
    calls: list[float] = []

    def stopped() -> bool:
        calls.append(time.monotonic())
        return len(calls) > 2  # the fleet is stopped while the save waits

    data = BenchReport.parse(report(), "test")
    with _held(url):
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="stopped while waiting for the history database"):
            StoreHistory(url, stopped=stopped).save(data)
        assert time.monotonic() - t0 < 5  # not the 30 s wait
    assert len(calls) == 3
    # not stopped: the same save goes through once the store is free
    assert StoreHistory(url, stopped=lambda: False).save(data) is not None
