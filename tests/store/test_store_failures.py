"""The store failing under a user: a bench whose save fails keeps its results where the error
says, and a store on a read-only filesystem can still be read."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama

runner = CliRunner()


def _bench_into_a_locked_store(db: Path, *extra: str) -> Result:
    """A bench whose store is an llmbox store that another process holds past the busy
    timeout when the run is saved."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        return runner.invoke(
            app, ["bench", "llama3.2", "--runs", "2", "--max-tokens", "8", "--db", str(db), *extra]
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def locked_store(fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from llmbox.store import _engine, open_store

    db = tmp_path / "h.db"
    open_store(f"sqlite:///{db}").close()
    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    return db


def test_a_bench_whose_save_fails_keeps_its_results_in_a_file_it_names(
    locked_store: Path, tmp_path: Path
) -> None:
    result = _bench_into_a_locked_store(locked_store, "--tag", "ci=nightly run")
    assert result.exit_code == 6, result.output
    assert "is locked by another process" in result.stderr
    kept = [w for w in result.stderr.split() if w.endswith(".json")]
    assert kept, result.stderr  # the error names where the results are
    path = Path(kept[0]) if Path(kept[0]).is_absolute() else tmp_path / kept[0]
    assert json.loads(path.read_text())["schema"] == "llmbox.bench/1"
    # … and the command it names adds them, to the store they were meant for, with their tag,
    # once the store is free again (not to the default store: that one stays empty)
    command = " ".join(result.stderr.split()).split("`")[1]
    argv = shlex.split(command)
    assert argv[:3] == ["llmbox", "history", "import"], command
    added = runner.invoke(app, argv[1:])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["history", "-f", "json", "--db", str(locked_store)])
    [run] = json.loads(listed.stdout)
    assert (run["models"], run["tags"]) == (["llama3.2"], {"ci": "nightly run"})


def test_commands_bench_prints_repeat_the_store_without_its_password() -> None:
    from llmbox.cli._bench_run import import_command, shown_db

    url = "postgresql://bench:s3cret@db.lan/llmbox"
    assert shown_db(url) == "postgresql://bench:***@db.lan/llmbox"
    assert shown_db("  ") is None  # the default store: no flag
    assert shown_db(None) is None
    command = import_command(Path("run.json"), url, ["ci=a b"])
    assert command == (
        "llmbox history import run.json --db 'postgresql://bench:***@db.lan/llmbox' --tag 'ci=a b'"
    )


def test_a_failed_save_names_the_json_output_that_already_holds_the_results(
    locked_store: Path, tmp_path: Path
) -> None:
    result = _bench_into_a_locked_store(locked_store, "-o", "json:out.json")
    assert result.exit_code == 6, result.output
    assert "kept in out.json" in result.stderr
    assert json.loads((tmp_path / "out.json").read_text())["results"]
    assert not list(tmp_path.glob("llmbox-bench-*.json"))  # no second copy


def _read_only_mount_works(directory: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {directory} {directory} && "
         f"mount -o remount,ro,bind {directory} && ! touch {directory}/probe"],
        capture_output=True,
        check=False,
    )  # fmt: skip
    return probe.returncode == 0


def _history_on_a_read_only_mount(shared: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``llmbox history ARGS`` in a mount namespace where ``shared`` is read-only (skips the test
    where such a mount cannot be made)."""
    if not _read_only_mount_works(shared):
        pytest.skip("cannot mount a directory read-only here (needs unshare -m as root)")
    return subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {shared} {shared} && mount -o remount,ro,bind {shared} && "
         f'exec {sys.executable} -m llmbox history {" ".join(args)}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def test_a_store_on_a_read_only_filesystem_can_be_read(tmp_path: Path) -> None:
    from tests.store.reports import report

    shared = tmp_path / "shared"
    shared.mkdir()
    run = tmp_path / "run.json"
    run.write_text(json.dumps(report()), encoding="utf-8")
    db = shared / "h.db"
    assert runner.invoke(app, ["history", "import", "--db", str(db), str(run)]).exit_code == 0
    done = _history_on_a_read_only_mount(shared, "-f", "json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 1


def test_a_read_only_store_whose_log_was_never_merged_is_refused_not_half_read(
    tmp_path: Path,
) -> None:
    from llmbox.store import open_store

    live, shared = tmp_path / "live", tmp_path / "shared"
    live.mkdir(), shared.mkdir()
    open_store(f"sqlite:///{live / 'h.db'}").close()
    writer = sqlite3.connect(live / "h.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO schema_version VALUES (0, 'a note', '2026-12-01')")
    # a backup taken while a writer ran: the file and a log holding a change, no -shm
    shutil.copy(live / "h.db", shared / "h.db")
    shutil.copy(live / "h.db-wal", shared / "h.db-wal")
    writer.close()
    assert (shared / "h.db-wal").stat().st_size > 0
    done = _history_on_a_read_only_mount(shared, "--db", str(shared / "h.db"))
    assert done.returncode == 6, done.stderr
    assert "write-ahead log h.db-wal was never merged" in done.stderr
    assert "Traceback" not in done.stderr
