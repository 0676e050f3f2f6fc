"""Ctrl-C or SIGTERM while a bench waits to save into a store another process holds: the bench
stops at once (not after the 30 s busy timeout), prints its results, keeps them in a file the
error names, and exits 130 or 143."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmbox.store import open_store
from tests.fakes.ollama import FakeOllama

# Ctrl-C as a terminal sends it, even where the test runs with SIGINT ignored (a background job).
_MAIN = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from llmbox.cli import main; main()"
)


def _bench_signalled_while_saving(
    db: Path, cwd: Path, host: str, signum: int
) -> tuple[int, str, str, float]:
    """Run a bench whose store is locked by this process, send ``signum`` once its only case
    has finished (the save is waiting for the lock); its exit code, stdout, stderr and how long
    it took to exit after the signal."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "bench", "llama3.2", "--runs", "2", "--max-tokens", "8",
             "--prompt-tokens", "16", "--host", host, "--db", str(db)],
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
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize(
    ("signum", "code", "words"),
    [
        (signal.SIGINT, 130, "interrupted while saving the run"),
        (signal.SIGTERM, 143, "terminated by SIGTERM while saving the run"),
    ],
)
def test_a_signal_during_a_locked_save_stops_at_once_and_keeps_the_results(
    fake_ollama: FakeOllama, tmp_path: Path, signum: int, code: int, words: str
) -> None:
    db = tmp_path / "h.db"
    open_store(f"sqlite:///{db}").close()
    returncode, out, err, took = _bench_signalled_while_saving(
        db, tmp_path, fake_ollama.url, signum
    )
    assert returncode == code, err
    assert took < 10, f"exited {took:.1f} s after the signal"  # the busy timeout is 30 s
    assert "decode t/s" in out  # the table is printed
    assert words in err, err
    assert "the results are kept in" in err
    kept = [w for w in err.split() if w.startswith("llmbox-bench-") and w.endswith(".json")]
    assert kept, err
    assert json.loads((tmp_path / kept[0]).read_text())["results"]
    assert "Traceback" not in err
    with open_store(f"sqlite:///{db}") as store:
        assert store.count() == 0  # … and indeed not saved
