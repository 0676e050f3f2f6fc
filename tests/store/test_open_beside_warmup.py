"""A bench opens its SQLite store on a thread beside the first case's warm-ups, and waits for it
before the first measured request. What a hurried user meets there: a store that fails only
once opened stops the bench before any measured request, in one line with a hint; whatever the
grid (no warm-up, calibration probes, interleaved cases, several models, concurrency) the open
is over before the first measured request; a store opened and never saved to is closed (its
write-ahead log merged into the file), also when the bench is stopped."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import llmbox.store
from llmbox.cli import app
from llmbox.errors import ExitCode, ServerUnreachable
from llmbox.results import BenchReport
from llmbox.store import open_store
from llmbox.store._schema import LATEST
from llmbox.store.bench import StoreHistory, wait_for_closes
from tests.fakes.ollama import FakeModel, FakeOllama
from tests.store.reports import report

GENERATIONS = ("/api/generate", "/api/chat")


def generations(fake: FakeOllama) -> list[dict[str, Any]]:
    """The generation requests the fake server got, in order (warm-ups, probes, measured)."""
    with fake._lock:
        return [r for r in fake.requests if r["path"].split("?")[0] in GENERATIONS]


def bench(fake: FakeOllama, db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["bench", "llama3.2", "--host", fake.url, "--db", str(db), *args]
    )


def wal_content(db: Path) -> int:
    """Bytes in the store's write-ahead log (0: none left, merged into the file)."""
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def opened_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """perf_counter_ns() at the end of each open_store of a bench (the clock the fake server
    stamps its requests with)."""
    real = llmbox.store.open_store
    ends: list[int] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        finally:
            ends.append(time.perf_counter_ns())

    monkeypatch.setattr(llmbox.store, "open_store", timed)
    yield ends
    wait_for_closes()


# -- stores that fail only once opened ------------------------------------------------------------


def _newer(db: Path) -> None:
    with open_store(f"sqlite:///{db}") as store:
        store.engine.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (LATEST + 1, "future", "2030-01-01T00:00:00.000000Z"),
        )


def _foreign(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()


def _damaged(db: Path) -> None:
    open_store(f"sqlite:///{db}").close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE tags")
    conn.commit()
    conn.close()


def _corrupt(db: Path) -> None:
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # the magic, then garbage


FAILING = {
    "newer llmbox": (_newer, "newer than this llmbox"),
    "another program's": (_foreign, "another program's tables (invoices)"),
    "damaged": (_damaged, "is damaged: table tags is missing"),
    "corrupt": (_corrupt, "corrupt"),
}

#: (flags, generation requests a bench sends before its first measured one, cases). A model's
#: first --prompt-tokens case (512 by default) sends two calibration probes first.
GRIDS = {
    "defaults": (("--max-tokens", "8"), 3, 1),
    "no warm-up": (("--max-tokens", "8", "--warmup", "0"), 2, 1),
    "no warm-up, no probe": (("--max-tokens", "8", "--warmup", "0", "--prompt", "Hi"), 0, 1),
    "warm-ups": (("--max-tokens", "8", "--prompt-tokens", "16", "--warmup", "3"), 5, 1),
    "interleaved cases": (("--order", "interleave", "--max-tokens", "8,16"), 4, 2),
    "concurrent": (("--max-tokens", "8", "--concurrency", "2"), 3, 1),
}


@pytest.mark.parametrize("grid", GRIDS.values(), ids=GRIDS.keys())
@pytest.mark.parametrize("store", FAILING.values(), ids=FAILING.keys())
def test_a_store_that_fails_once_opened_stops_the_bench_before_its_first_measured_request(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    store: tuple[Callable[[Path], None], str],
    grid: tuple[tuple[str, ...], int, int],
) -> None:
    make, words = store
    flags, before_measuring, _ = grid
    db = tmp_path / "h.db"
    make(db)
    out = tmp_path / "out.json"
    done = bench(fake_ollama, db, "--runs", "3", "-o", f"json:{out}", *flags)
    assert done.exit_code == ExitCode.STORE, done.output
    assert words in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "Hint:" in done.stderr
    assert "--no-save" in done.stderr
    assert "Traceback" not in done.output
    assert len(generations(fake_ollama)) <= before_measuring  # not one measured request
    kept = BenchReport.load(out)  # the output file is a valid report, saying it stopped early
    assert kept.results == []
    assert kept.interrupted


def test_a_store_locked_by_another_writer_creating_it_stops_the_bench_after_the_wait(
    fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.5)
    db = tmp_path / "h.db"
    with _creating(db):
        done = bench(fake_ollama, db, "--runs", "2", "--max-tokens", "8")
    assert done.exit_code == ExitCode.STORE, done.output
    assert "is locked by another process" in done.stderr
    assert "--no-save" in done.stderr
    assert len(generations(fake_ollama)) == 3  # the probes and the warm-up only


class _creating:
    """Another llmbox creating the store at ``db``: WAL set, its tables not committed yet."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# -- the open ends before the first measured request, whatever the grid --------------------------


@pytest.mark.parametrize("grid", GRIDS.values(), ids=GRIDS.keys())
def test_the_store_is_open_before_the_first_measured_request_and_saves_every_case(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    opened_at: list[int],
    grid: tuple[tuple[str, ...], int, int],
) -> None:
    flags, before_measuring, cases = grid
    db = tmp_path / "new" / "sub" / "h.db"  # directories not made yet are made
    done = bench(fake_ollama, db, "--runs", "2", *flags)
    assert done.exit_code == 0, done.output
    assert "saved as run 1" in done.stderr
    assert len(opened_at) == 1  # opened once, beside the warm-up; the save used it
    first_measured = generations(fake_ollama)[before_measuring]
    assert opened_at[0] < first_measured["t_ns"]
    wait_for_closes()
    assert wal_content(db) == 0
    with open_store(f"sqlite:///{db}") as store:
        assert len(store.load(1).results) == cases


def test_several_models_interleaved_save_one_run_with_every_pair(
    fake_ollama: FakeOllama, tmp_path: Path, opened_at: list[int]
) -> None:
    db = tmp_path / "h.db"
    done = CliRunner().invoke(
        app, ["bench", "llama3.2", "qwen3:4b", "--order", "interleave", "--max-tokens", "8,16",
              "--runs", "2", "--host", fake_ollama.url, "--db", str(db)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert len(opened_at) == 1
    # interleaved: every pair is warmed up before the first measured request
    assert opened_at[0] < generations(fake_ollama)[4]["t_ns"]
    with open_store(f"sqlite:///{db}") as store:
        assert len(store.load(1).results) == 4


# -- a store opened beside the warm-up and not saved to is closed ---------------------------------


def test_a_store_opened_beside_the_warm_up_and_never_saved_to_is_closed_at_exit(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}")
    history.check()
    with history.warming_up():
        pass
    assert wal_content(db) > 0  # created, its tables in the log, not merged yet
    wait_for_closes()  # what the process does at exit
    assert wal_content(db) == 0
    with open_store(f"sqlite:///{db}") as store:
        assert store.count() == 0


def test_a_warm_up_that_fails_gives_the_store_up_and_a_later_save_opens_it_again(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}")
    history.check()

    def server_gone() -> None:
        with history.warming_up():
            time.sleep(0.1)  # the thread has opened the store meanwhile
            raise ServerUnreachable("gone")

    with pytest.raises(ServerUnreachable):
        server_gone()
    wait_for_closes()
    assert wal_content(db) == 0  # closed, although the window never reached its end
    assert history.save(BenchReport.parse(report())) is not None
    wait_for_closes()
    assert wal_content(db) == 0


def test_a_window_left_before_the_thread_began_opens_the_store_itself(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}")
    history.check()
    with history.warming_up():
        pass  # far less than the thread's head start
    saved = history.save(BenchReport.parse(report()))
    assert saved is not None
    assert saved.id == 1
    wait_for_closes()
    assert wal_content(db) == 0


def test_a_fleet_only_checks_and_saves_on_its_own(tmp_path: Path) -> None:
    # no window is ever entered: save opens the store itself, from a worker thread
    import threading

    db = tmp_path / "h.db"
    history = StoreHistory(f"sqlite:///{db}", stopped=lambda: False)
    history.check()
    assert not db.exists()  # checked without being opened (or created)
    saved: list[Any] = []
    data = BenchReport.parse(report())
    worker = threading.Thread(target=lambda: saved.append(history.save(data)))
    worker.start()
    worker.join(30)
    assert saved
    assert saved[0] is not None
    wait_for_closes()
    assert wal_content(db) == 0


# -- Ctrl-C and SIGTERM: at once, also while the store waits for another writer's lock -----------

# Ctrl-C as a terminal sends it, even where the test runs with SIGINT ignored (a background job).
_MAIN = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from llmbox.cli import main; main()"
)
_SIGNALS = [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated by SIGTERM")]


def _start_bench(fake: FakeOllama, db: Path, cwd: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _MAIN, "bench", "llama3.2", "--runs", "3", "--max-tokens", "8",
         "--host", fake.url, "--db", str(db), "-o", f"json:{cwd / 'out.json'}", *flags],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _when(fake: FakeOllama, proc: subprocess.Popen[str], count: int, path: str = "") -> None:
    """Wait until the fake server got ``count`` generation requests (and one to ``path``)."""
    deadline = time.monotonic() + 30
    while len(generations(fake)) < count or (path and path not in _paths(fake)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the bench sent too few requests"
        time.sleep(0.01)


def _paths(fake: FakeOllama) -> list[str]:
    with fake._lock:
        return [r["path"] for r in fake.requests]


def _stop(proc: subprocess.Popen[str], signum: int, code: int, words: str) -> None:
    """Send ``signum``: the bench exits with ``code`` at once, saying ``words``, in one line."""
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == code, err
    assert took < 5, f"exited {took:.1f} s after the signal"  # not after a 30 s lock wait
    assert words in err
    assert "Traceback" not in err


def _stall(fake: FakeOllama, nth: int, seconds: float) -> None:
    """The fake server takes ``seconds`` to begin answering its ``nth`` generation request."""
    seen = [0]

    def hook(path: str) -> bool:
        if path in GENERATIONS:
            seen[0] += 1
            if seen[0] == nth:
                time.sleep(seconds)
        return False

    fake.on_request = hook


#: (flags, generation requests before the window's end); without warm-ups or probes the window
#: is over before the thread begins, and the waiting thread opens the store itself.
_WINDOWS = {"warm-up": ((), 3), "opened by the waiter": (("--warmup", "0", "--prompt", "Hi"), 0)}


@pytest.mark.parametrize("window", _WINDOWS.values(), ids=_WINDOWS.keys())
@pytest.mark.parametrize(("signum", "code", "words"), _SIGNALS)
def test_a_signal_while_the_warm_up_waits_for_a_locked_store_stops_the_bench_at_once(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    signum: int,
    code: int,
    words: str,
    window: tuple[tuple[str, ...], int],
) -> None:
    # The wait blocked the event loop that handles both signals: they took effect only when the
    # 30 s wait for the lock was over.
    flags, sent = window
    db = tmp_path / "h.db"
    with _creating(db):
        proc = _start_bench(fake_ollama, db, tmp_path, *flags)
        _when(fake_ollama, proc, sent, "/api/ps")  # the window's last request: the wait is on
        time.sleep(0.5)
        _stop(proc, signum, code, words)
    assert len(generations(fake_ollama)) == sent  # no measured request
    assert BenchReport.load(tmp_path / "out.json").interrupted


@pytest.mark.parametrize(("signum", "code", "words"), _SIGNALS)
def test_a_signal_during_the_warm_up_gives_up_an_open_waiting_for_a_lock(
    fake_ollama: FakeOllama, tmp_path: Path, signum: int, code: int, words: str
) -> None:
    # The thread opening the store waits for the other writer's lock while the warm-up runs; the
    # stopped bench gives it up, and does not wait at exit for the lock either.
    db = tmp_path / "h.db"
    _stall(fake_ollama, 3, 5.0)
    with _creating(db):
        proc = _start_bench(fake_ollama, db, tmp_path)
        _when(fake_ollama, proc, 3)
        time.sleep(0.3)  # the thread is waiting for the lock
        _stop(proc, signum, code, words)


@pytest.mark.parametrize(("signum", "code", "words"), _SIGNALS)
def test_a_bench_stopped_before_anything_is_saved_leaves_its_new_store_closed(
    fake_ollama: FakeOllama, tmp_path: Path, signum: int, code: int, words: str
) -> None:
    # Stopped during its first measured request: nothing to save, but the store was created
    # beside the warm-up; it is closed, its log merged into the file (it was left in h.db-wal).
    db = tmp_path / "h.db"
    _stall(fake_ollama, 4, 5.0)
    proc = _start_bench(fake_ollama, db, tmp_path)
    _when(fake_ollama, proc, 4)
    _stop(proc, signum, code, words)
    assert wal_content(db) == 0
    with open_store(f"sqlite:///{db}") as store:
        assert store.count() == 0


# -- refused before the first request, without opening the store --------------------------------


def test_a_text_file_in_llmbox_db_is_refused_before_any_request_and_named_as_from_there(
    fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    monkeypatch.setenv("LLMBOX_DB", str(notes))
    done = CliRunner().invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url])
    assert done.exit_code == ExitCode.STORE, done.output
    assert "not an llmbox history database" in done.stderr
    assert "(from $LLMBOX_DB)" in done.stderr
    assert "or unset LLMBOX_DB" in done.stderr
    assert generations(fake_ollama) == []
    assert notes.read_text() == "remember the milk\n"


def _as_non_root() -> list[str]:
    """A command prefix that takes away root's right to write anywhere (root passes
    os.access and every write); none for another user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("run as root without setpriv: root writes into read-only directories")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize(
    ("where", "says"),
    [("ro/h.db", "{ro} is not writable"), ("ro/not/yet/h.db", "{where}: Permission denied")],
)
def test_a_store_in_a_read_only_directory_is_refused_before_any_request(
    fake_ollama: FakeOllama, tmp_path: Path, where: str, says: str
) -> None:
    (tmp_path / "ro").mkdir(mode=0o555)
    done = subprocess.run(
        [*_as_non_root(), sys.executable, "-m", "llmbox", "bench", "llama3.2", "--host",
         fake_ollama.url, "--db", where],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == ExitCode.STORE, done.stderr
    assert says.format(ro=tmp_path / "ro", where=where) in done.stderr
    assert "--no-save" in done.stderr
    assert "Traceback" not in done.stderr
    assert generations(fake_ollama) == []
    assert os.listdir(tmp_path / "ro") == []


def test_a_bench_whose_every_case_is_skipped_says_nothing_was_saved(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    # No case runs, so no warm-up window opens the store: nothing is saved, and the bench says
    # so (it said nothing at all), without creating an empty store.
    fake_ollama.add(FakeModel("tiny:1b", context_length=1024))
    suite = tmp_path / "needles.yaml"
    suite.write_text("name: needles\ncases:\n  - label: needle 4k\n    dataset: needle:4k\n")
    db = tmp_path / "h.db"
    done = CliRunner().invoke(
        app, ["bench", "tiny:1b", "--suite", str(suite), "--host", fake_ollama.url, "--db", str(db)]
    )
    assert done.exit_code == 0, done.output
    assert "skipped needle 4k" in done.stderr
    assert "nothing was measured: no results to show, and no run saved" in done.stderr
    assert generations(fake_ollama) == []
    assert not db.exists()
