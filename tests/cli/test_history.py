"""`llmbox history` as a user meets it: list, filters, show, rm, import, export, regressions,
and one clear line for every broken input."""

from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests._pipes import through_a_pipe
from tests.fakes.ollama import FakeOllama
from tests.store.reports import T0, report, series

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SAVED_REPORT = ROOT / "tests" / "hw" / "data" / "bench_m2.json"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store chosen by LLMBOX_DB, as a team would set it."""
    path = tmp_path / "history.db"
    monkeypatch.setenv("LLMBOX_DB", str(path))
    return path


def llmbox(*argv: str, code: int = 0, input: str | None = None) -> Any:
    result = runner.invoke(app, list(argv), input=input)
    assert result.exit_code == code, result.output
    if code not in (0, 5):
        assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_empty_store_says_how_to_fill_it(db: Path) -> None:
    result = llmbox("history")
    assert result.stdout == ""
    assert "no runs stored yet" in result.stderr
    assert "llmbox bench" in result.stderr
    assert not db.exists()  # looking does not create it


def test_import_then_list_show_and_round_trip(db: Path, tmp_path: Path) -> None:
    first = write(tmp_path, "a.json", report(started=T0, decode_tps=50))
    second = write(tmp_path, "b.json", report(started=T0 + timedelta(days=1), machine="mac"))
    result = llmbox(
        "history", "import", str(first), str(second), str(SAVED_REPORT), "--tag", "src=ci"
    )
    assert "imported as run 1" in result.stderr
    assert "3 imported, 0 already there" in result.stderr

    table = llmbox("history").stdout
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["id", "started", "machine", "server"]
    assert [line.split()[0] for line in lines[2:]] == ["3", "2", "1"]  # newest first
    assert "src=ci" in lines[2]

    rows = json.loads(llmbox("history", "-f", "json").stdout)
    assert [r["machine"] for r in rows] == ["Apple M2", "mac", "gpu-box"]
    assert rows[0]["tags"] == {"src": "ci"}

    shown = llmbox("history", "show", "1", "-f", "json").stdout
    assert json.loads(shown) == json.loads(first.read_text())
    BenchReport.parse(json.loads(shown))

    text = llmbox("history", "show", "2")
    assert "llama3.2" in text.stdout
    assert "run 2:" in text.stderr


def test_reimport_skips_what_is_there(db: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", report())
    llmbox("history", "import", str(path))
    again = llmbox("history", "import", str(path))
    assert "already stored as run 1" in again.stderr
    assert len(json.loads(llmbox("history", "-f", "json").stdout)) == 1


def test_filters_limit_and_csv(db: Path, tmp_path: Path) -> None:
    for i, data in enumerate(series([50] * 25)):
        write(tmp_path, f"{i:02d}.json", data)
    llmbox("history", "import", *sorted(str(p) for p in tmp_path.glob("*.json")))
    table = llmbox("history")
    assert len(table.stdout.splitlines()) == 2 + 20
    assert "20 of 25 run(s)" in table.stderr
    assert "--limit 0 shows all 25" in table.stderr
    assert len(llmbox("history", "--limit", "0").stdout.splitlines()) == 2 + 25
    rows = list(csv.DictReader(io.StringIO(llmbox("history", "-f", "csv").stdout)))
    assert len(rows) == 25
    assert rows[0]["models"] == "llama3.2"
    since = llmbox("history", "--since", "2026-11-20", "-f", "json").stdout
    assert len(json.loads(since)) == 6
    listed = llmbox("history", "list", "--until", "2026-11-03", "-m", "llama3.2", "-f", "json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [2, 1]
    assert json.loads(llmbox("history", "--model", "nope", "-f", "json").stdout) == []
    assert "no runs stored in" in llmbox("history", "--machine", "nope").stderr


def test_rm(db: Path, tmp_path: Path) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())))
    missing = llmbox("history", "rm", "1", "7", code=2)
    assert "no run 7" in missing.stderr
    assert "nothing removed" in missing.stderr
    assert "removed run 1" in llmbox("history", "rm", "1").stderr
    assert json.loads(llmbox("history", "-f", "json").stdout) == []
    assert "no run 1" in llmbox("history", "show", "1", code=2).stderr


def test_export_import_moves_runs_with_their_tags(db: Path, tmp_path: Path) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())), "--tag", "git=abc")
    exported = tmp_path / "all.jsonl"
    llmbox("history", "export", "-o", str(exported))
    other = tmp_path / "other.db"
    llmbox("history", "import", "--db", str(other), str(exported))
    rows = json.loads(llmbox("history", "--db", str(other), "-f", "json").stdout)
    assert rows[0]["tags"] == {"git": "abc"}
    piped = llmbox("history", "export", "-f", "json").stdout
    assert json.loads(piped)[0]["report"] == report()
    again = llmbox("history", "import", "--db", str(other), "-", input=piped)
    assert "already stored as run 1" in again.stderr


def test_regressions_and_ci_exit_code(db: Path, tmp_path: Path) -> None:
    for i, data in enumerate(series([50, 50, 51, 49, 50, 35])):
        write(tmp_path, f"{i}.json", data)
    llmbox("history", "import", *sorted(str(p) for p in tmp_path.glob("*.json")))
    found = llmbox("history", "regressions")
    assert "llama3.2" in found.stdout
    assert "decode_tps" in found.stdout
    assert "open" in found.stdout
    assert "1 open regression(s)" in found.stderr
    as_json = json.loads(llmbox("history", "regressions", "-f", "json").stdout)
    assert [(c["metric"], c["kind"], c["after_run"]) for c in as_json] == [
        ("decode_tps", "regression", 6)
    ]
    failed = llmbox("history", "regressions", "--fail-on-regression", code=5)
    assert "1 open regression(s): llama3.2 pp512 tg128 decode_tps" in failed.stderr
    llmbox("history", "regressions", "--fail-on-regression", "--min-effect", "50")
    llmbox("history", "regressions", "--fail-on-regression", "--machine", "elsewhere")
    assert "unknown metric" in llmbox("history", "regressions", "--metric", "speed", code=2).stderr


# -- what a hurried user gets wrong ---------------------------------------------------------------


def test_a_file_that_is_not_a_report(db: Path, tmp_path: Path) -> None:
    cases = {
        "notjson.json": "{ this is not json",
        "other.json": json.dumps({"name": "something else"}),
        "bad.json": json.dumps({**report(), "backend": 7}),
        "empty.json": "",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        result = llmbox("history", "import", str(tmp_path / name), code=2)
        assert result.stderr.startswith("Error: "), name
        assert "Hint: give a file written by llmbox bench" in result.stderr, name
    assert "cannot read" in llmbox("history", "import", str(tmp_path / "nope.json"), code=2).stderr
    good = write(tmp_path, "good.json", report())
    llmbox("history", "import", str(good), str(tmp_path / "other.json"), code=2)
    assert json.loads(llmbox("history", "-f", "json").stdout) == []  # all or nothing


def test_bad_values(db: Path) -> None:
    assert "not a date or age" in llmbox("history", "--since", "last tuesday", code=2).stderr
    assert (
        "expected KEY=VALUE"
        in llmbox("history", "import", "x.json", "--tag", "oops", code=2).stderr
    )
    bad_url = llmbox("history", "--db", "mysql://root@db/x", code=2)
    assert "unsupported database URL scheme 'mysql'" in bad_url.stderr
    assert "Hint: use sqlite:///PATH" in bad_url.stderr


def test_corrupt_and_locked_sqlite_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 500)
    result = llmbox("history", "--db", str(corrupt), code=6)
    assert "is not an llmbox history database, or it is corrupt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # one line + hint

    from llmbox.store import _engine

    locked = tmp_path / "locked.db"
    llmbox("history", "import", "--db", str(locked), str(write(tmp_path, "a.json", report())))
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.2)
    try:
        result = llmbox("history", "rm", "1", "--db", str(locked), code=6)
        assert "is locked by another process" in result.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_unreachable_postgresql() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = llmbox("history", "--db", f"postgresql://ci:pw@127.0.0.1:{port}/llmbox", code=6)
    assert "cannot connect to PostgreSQL at postgresql://ci:***@127.0.0.1" in result.stderr
    assert "pw@" not in result.output


# -- end to end with real benchmarks --------------------------------------------------------------


def test_benchmarks_of_the_fake_server_are_remembered_and_a_slowdown_is_flagged(
    db: Path, tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    model = fake_ollama.find("llama3.2")
    assert model is not None
    argv = [
        "llama3.2",
        "--host",
        fake_ollama.url,
        "--runs",
        "3",
        "--max-tokens",
        "16",
        "--prompt-tokens",
        "32",
        "-q",
    ]
    for i, decode in enumerate([500.0, 500.0, 300.0]):  # the third run is deliberately slowed
        model.decode_tps = decode
        out = tmp_path / f"run{i}.json"
        llmbox("bench", *argv, "-o", f"json:{out}")  # bench saves every run itself
        llmbox("history", "import", str(out))  # importing the same report again adds nothing
    rows = json.loads(llmbox("history", "-f", "json").stdout)
    assert len(rows) == 3
    changes = json.loads(llmbox("history", "regressions", "-f", "json").stdout)
    decode = [c for c in changes if c["metric"] == "decode_tps"]
    assert [(c["kind"], round(c["change_pct"])) for c in decode] == [("regression", -40)]
    assert decode[0]["after_run"] == max(r["id"] for r in rows)  # the slowed, latest run
    llmbox("history", "regressions", "--fail-on-regression", code=5)


# -- a second pass of the hurried user ------------------------------------------------------------


@pytest.mark.parametrize("age", ["10000000d", "99999999999999h"])
def test_an_age_beyond_the_calendar_is_a_usage_error(db: Path, age: str) -> None:
    result = llmbox("history", "--since", age, code=2)
    assert result.stderr.startswith(f"Error: not a date or age: '{age}'")
    assert "unexpected" not in result.stderr


@pytest.mark.parametrize("command", ["show", "rm"])
def test_a_run_id_beyond_any_store_is_not_found(db: Path, tmp_path: Path, command: str) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())))
    result = llmbox("history", command, "99999999999999999999", code=2)
    assert "no run 99999999999999999999" in result.stderr
    assert "unexpected" not in result.stderr


def test_a_misspelt_backend_is_named_not_silently_empty(db: Path, tmp_path: Path) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())))
    for argv in (["history"], ["history", "-f", "json"], ["history", "export"],
                 ["history", "regressions"]):  # fmt: skip
        result = llmbox(*argv, "--backend", "olama", code=2)
        assert "unknown backend 'olama'" in result.stderr, argv
        assert "ollama" in result.stderr.splitlines()[-1], argv  # the hint names the real ones
    assert len(json.loads(llmbox("history", "--backend", "ollama", "-f", "json").stdout)) == 1


def test_a_named_store_that_does_not_exist_is_not_an_empty_one(db: Path, tmp_path: Path) -> None:
    typo = tmp_path / "histroy.db"
    for argv in (["history"], ["history", "-f", "json"], ["history", "list"],
                 ["history", "export"], ["history", "regressions"]):  # fmt: skip
        result = llmbox(*argv, "--db", str(typo), code=2)
        assert result.stdout == "", argv
        assert f"no history database at {typo}" in result.stderr, argv
        assert "Hint:" in result.stderr, argv
    assert not typo.exists()
    assert "no runs stored yet" in llmbox("history").stderr  # $LLMBOX_DB not written yet: empty


def test_another_programs_sqlite_database_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "places.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE bookmarks (url TEXT)")
    good = write(tmp_path, "a.json", report())
    for argv in (["history"], ["history", "import", str(good)]):
        result = llmbox(*argv, "--db", str(other), code=6)
        assert "is not an llmbox store" in result.stderr
        assert "bookmarks" in result.stderr
    with sqlite3.connect(other) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"bookmarks"}


def test_a_damaged_store_says_so_before_anything_is_written(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    llmbox("history", "import", "--db", str(damaged), str(write(tmp_path, "a.json", report())))
    with sqlite3.connect(damaged) as conn:
        conn.execute("DROP TABLE samples")
    for argv in (
        ["history"],
        ["history", "import", str(write(tmp_path, "b.json", series([40])[0]))],
    ):
        result = llmbox(*argv, "--db", str(damaged), code=6)
        assert "is damaged: table samples is missing" in result.stderr, argv


def test_export_over_the_store_itself_is_refused(db: Path, tmp_path: Path) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())))
    result = llmbox("history", "export", "-o", str(db), code=2)
    assert "is a SQLite database" in result.stderr
    assert len(json.loads(llmbox("history", "-f", "json").stdout)) == 1  # the store is intact


def test_export_to_a_pipe_writes_into_it(db: Path, tmp_path: Path) -> None:
    llmbox("history", "import", str(write(tmp_path, "a.json", report())))
    got = through_a_pipe(tmp_path, lambda fifo: llmbox("history", "export", "-o", str(fifo)))
    assert json.loads(got.decode())["report"] == report()


def test_sqlite_url_with_two_slashes_suggests_three(db: Path) -> None:
    result = llmbox("history", "--db", "sqlite://runs.db", code=2)
    assert "sqlite:///runs.db" in result.stderr
