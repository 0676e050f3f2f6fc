"""`llmbox history` attacked as a hurried user would: a narrow terminal, a terminal on stdin,
files from a newer llmbox, typos, interruptions. Each case gives one line, a hint and an exit
code, never a traceback, and loses nothing."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_history import llmbox, write
from tests.store.reports import series

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "history.db"
    monkeypatch.setenv("LLMBOX_DB", str(path))
    return path


@pytest.fixture
def stored(db: Path, tmp_path: Path) -> Path:
    """Six runs of a long-named model on a long-named machine, tagged, the last one slower."""
    files = []
    for i, data in enumerate(series([50, 50, 51, 49, 50, 35], machine="gpu-box-17.lab.example")):
        for result in data["results"]:
            result["model"] = "hf.co/someone/Llama-3.2-3B-Instruct-GGUF:Q4_K_M"
        files.append(str(write(tmp_path, f"{i}.json", data)))
    llmbox("history", "import", *files, "--tag", "git=0123456789abcdef", "--tag", "ci=nightly")
    return db


# -- (a) a narrow terminal ------------------------------------------------------------------------


def test_a_40_column_terminal_gets_a_table_that_fits_and_says_what_it_hid(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = llmbox("history")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 40, result.stdout
    assert lines[0].split()[:2] == ["id", "started"]
    assert "models" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["6", "5", "4", "3", "2", "1"]
    assert "hf.co/" in lines[2]  # the model is cut, not dropped
    assert "hidden to fit the terminal" in result.stderr
    assert "tags" in result.stderr
    assert "-f csv" in result.stderr


def test_a_wide_or_unlimited_table_hides_nothing(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = llmbox("history")  # no COLUMNS, stdout not a terminal: no limit
    assert "git=0123456789abcdef" in result.stdout
    assert "hidden" not in result.stderr


def test_json_and_csv_do_not_depend_on_the_terminal_width(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wide = {f: llmbox("history", "-f", f).stdout for f in ("json", "csv")}
    monkeypatch.setenv("COLUMNS", "40")
    narrow = {f: llmbox("history", "-f", f).stdout for f in ("json", "csv")}
    assert narrow == wide
    rows = list(csv.DictReader(io.StringIO(narrow["csv"])))
    assert rows[0]["tags"] == "ci=nightly;git=0123456789abcdef"
    assert json.loads(narrow["json"])[0]["machine"] == "gpu-box-17.lab.example"


def test_regressions_fit_a_40_column_terminal(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = llmbox("history", "regressions")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 40, result.stdout
    assert "decode_tps" in result.stdout
    assert "-30." in result.stdout
    assert "hidden to fit the terminal" in result.stderr
    assert "1 open regression(s)" in result.stderr


# -- (b) `history import -` with a terminal on stdin -----------------------------------------------


def test_import_from_a_terminal_stdin_is_refused_at_once(tmp_path: Path) -> None:
    """On a terminal, `import -` would wait silently for input no one is going to type."""
    import pty

    primary, secondary = pty.openpty()
    env = {**os.environ, "LLMBOX_DB": str(tmp_path / "h.db")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "llmbox", "history", "import", "-"],
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert done.returncode == 2, done.stderr
    assert "stdin is a terminal" in done.stderr
    assert "llmbox history export | llmbox history import" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "h.db").exists()


def test_import_from_a_pipe_still_reads_stdin(db: Path, tmp_path: Path) -> None:
    data = json.dumps(series([50])[0])
    assert "1 imported" in llmbox("history", "import", "-", input=data).stderr


# -- (c) a report from a newer llmbox ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "field"),
    [((), "energy_model"), (("results", 0), "new_metric"), (("results", 0, "runs", 2), "npu_s")],
)
def test_a_report_with_fields_from_a_newer_llmbox_is_refused_naming_them(
    db: Path, tmp_path: Path, where: tuple[Any, ...], field: str
) -> None:
    data = series([50])[0]
    node: Any = data
    for key in where:
        node = node[key]
    node[field] = {"from": "the future"}
    path = write(tmp_path, "newer.json", data)
    result = llmbox("history", "import", str(path), code=2)
    error, hint = result.stderr.splitlines()
    dotted = ".".join([*map(str, where), field])
    assert error.startswith(f"Error: {path} has field(s) llmbox ")
    assert f"does not know: {dotted}" in error
    assert "newer llmbox" in error
    assert "upgrade llmbox" in hint
    assert not db.exists()  # refused, not imported with the field dropped


def test_report_and_bench_files_from_a_newer_llmbox_say_the_same(tmp_path: Path) -> None:
    data = series([50])[0]
    data["results"][0]["new_metric"] = 1
    path = write(tmp_path, "newer.json", data)
    result = llmbox("report", str(path), "-o", str(tmp_path / "r.html"), code=2)
    assert "does not know: results.0.new_metric" in result.stderr
    assert not (tmp_path / "r.html").exists()


# -- typos and leftovers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["--tag", "cl"], "--tag cl matches none"),
        (["--tag", "git=nope"], "--tag git=nope matches none"),
        (["--model", "lama3.2"], "--model lama3.2 matches none"),
        (["--backend", "openai", "--tag", "ci=nightly"], "--backend openai matches none"),
    ],
)
def test_a_filter_that_matches_nothing_is_named(
    stored: Path, argv: list[str], culprit: str
) -> None:
    for fmt in ("table", "json"):
        result = llmbox("history", *argv, "-f", fmt)
        assert culprit in result.stderr
        assert result.stdout.strip() in ("", "[]")
    failed = llmbox("report", *argv, "-o", str(stored.parent / "r.html"), code=2)
    assert culprit in failed.stderr


def test_of_several_filters_the_one_matching_nothing_is_named(stored: Path) -> None:
    result = llmbox("history", "--tag", "ci=nightly", "--since", "2030-01-01")
    assert "--since 2030-01-01" in result.stderr
    assert "--tag" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["history"],
        ["history", "list"],
        ["history", "export"],
        ["history", "regressions"],
        ["report", "-o", "r.html"],
    ],
)
def test_until_before_since_is_a_usage_error(db: Path, argv: list[str]) -> None:
    result = llmbox(*argv, "--since", "1d", "--until", "2d", code=2)
    assert "--until 2d is not after --since 1d" in result.stderr
    assert "Hint:" in result.stderr


def test_a_bad_llmbox_db_says_it_came_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMBOX_DB", "mysql://db/bench")
    result = llmbox("history", code=2)
    error, hint = result.stderr.splitlines()
    assert error.endswith("(from $LLMBOX_DB)")
    assert hint.endswith("or unset LLMBOX_DB")
    assert "from $LLMBOX_DB" not in llmbox("history", "--db", "mysql://x", code=2).stderr


def test_a_password_in_the_query_string_is_masked(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://127.0.0.1:{port}/bench?user=ci&password=hunter2"
    result = llmbox("history", "--db", url, code=6)
    assert "hunter2" not in result.output
    assert "password=***" in result.stderr


# -- interrupted -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "code", "why"),
    [
        (lambda: (_ for _ in ()).throw(KeyboardInterrupt()), 130, "interrupted"),
        (lambda: os.kill(os.getpid(), signal.SIGTERM), 143, "terminated by SIGTERM"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_an_import_stopped_half_way_keeps_whole_runs_and_says_how_to_go_on(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: Any, code: int, why: str
) -> None:
    from llmbox.store._store import Store

    files = [str(write(tmp_path, f"{i}.json", data)) for i, data in enumerate(series([50] * 5))]
    save = Store.save
    calls = 0

    def stopping_save(self: Store, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            stop()
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Store, "save", stopping_save)
    result = llmbox("history", "import", *files, code=code)
    error, hint = result.stderr.splitlines()[-2:]
    assert error == f"Error: {why}: at least 2 of 5 run(s) are in {db}, each saved whole"
    assert "run the same command again" in hint
    monkeypatch.setattr(Store, "save", save)
    assert len(json.loads(llmbox("history", "-f", "json").stdout)) == 2
    again = llmbox("history", "import", *files)
    assert "3 imported, 2 already there" in again.stderr
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # put back


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_report_or_export_stopped_by_sigterm_says_so_and_leaves_no_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    import llmbox.report.exporters as exporters

    path = write(tmp_path, "run.json", series([50])[0])
    llmbox("history", "import", str(path))
    monkeypatch.setattr(exporters, "write_atomic", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    out = tmp_path / "out.file"
    argv = ["report", str(path)] if command == "report" else ["history", "export"]
    result = llmbox(*argv, "-o", str(out), code=143)
    assert result.stderr.strip() == "Error: terminated by SIGTERM"
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["history", "-f", "json"], ["history", "export"]])
def test_a_full_disk_behind_stdout_is_one_line_not_an_unexpected_error(
    stored: Path, argv: list[str]
) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "llmbox", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "LLMBOX_DB": str(stored)},
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: cannot write the output: No space left on device",
        "Hint: check where stdout goes (a full disk?)",
    ]


@pytest.mark.parametrize(
    "argv",
    [["history"], ["history", "export"], ["history", "regressions"], ["report", "-o", "r.html"]],
)
def test_a_misspelt_db_file_is_named_by_every_reading_command(
    tmp_path: Path, argv: list[str]
) -> None:
    missing = tmp_path / "histroy.db"
    result = llmbox(*argv, "--db", str(missing), code=2)
    assert result.stderr.splitlines()[0] == f"Error: no history database at {missing}"
    assert not missing.exists()


def test_an_empty_baseline_tag_is_named_as_a_baseline(db: Path) -> None:
    from llmbox.errors import UsageError
    from llmbox.store import find_baseline, open_store

    with open_store(str(db)) as store, pytest.raises(UsageError, match=r"--baseline 'tag:'"):
        find_baseline(store, "tag:", like=series([50])[0])


def test_a_vanishing_p_value_is_a_bound_not_zero(stored: Path) -> None:
    table = llmbox("history", "regressions").stdout.splitlines()
    header = table[0].split()
    row = table[2]
    assert "p" in header
    assert "<1e-04" in row
    assert "  0  " not in row


def test_reimporting_with_a_tag_says_the_stored_run_keeps_its_tags(
    db: Path, tmp_path: Path
) -> None:
    path = str(write(tmp_path, "run.json", series([50])[0]))
    llmbox("history", "import", path)
    again = llmbox("history", "import", path, "--tag", "ci=1")
    assert "already stored as run 1, its tags unchanged" in again.stderr
    assert json.loads(llmbox("history", "-f", "json").stdout)[0]["tags"] == {}


def test_report_over_a_shared_store_leaves_out_a_newer_llmboxs_run_and_says_so(
    db: Path, tmp_path: Path
) -> None:
    import sqlite3

    files = [str(write(tmp_path, f"{i}.json", data)) for i, data in enumerate(series([50, 51]))]
    llmbox("history", "import", *files)
    with sqlite3.connect(db) as conn:  # as a newer llmbox would have saved run 2
        conn.execute("UPDATE runs SET report = json_set(report, '$.energy', 1) WHERE id = 2")
    out = tmp_path / "r.html"
    result = llmbox("report", "-o", str(out))
    assert "Warning: left out run 2 has field(s) llmbox" in result.stderr
    assert "does not know: energy" in result.stderr
    assert "upgrade llmbox" in result.stderr
    assert out.exists()


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--min-effect", "inf", "--min-effect must be a finite percentage ≥ 0, not inf"),
        ("--min-effect", "nan", "--min-effect must be a finite percentage ≥ 0, not nan"),
        ("--min-effect", "-1", "--min-effect must be a finite percentage ≥ 0, not -1"),
        ("--alpha", "nan", "--alpha must be above 0 and at most 0.5, not nan"),
        ("--alpha", "0", "--alpha must be above 0 and at most 0.5, not 0"),
        ("--alpha", "2", "--alpha must be above 0 and at most 0.5, not 2"),
    ],
)
def test_regression_thresholds_that_mean_nothing_are_refused(
    stored: Path, option: str, value: str, said: str
) -> None:
    # --min-effect inf used to answer "0 open regressions", exit 0, over a store holding one
    result = llmbox("history", "regressions", option, value, code=2)
    assert said in result.output
    assert "Hint: e.g." in result.output


def test_report_over_a_store_of_only_newer_runs_says_why_none_is_shown(
    db: Path, tmp_path: Path
) -> None:
    import sqlite3

    llmbox("history", "import", str(write(tmp_path, "0.json", series([50])[0])))
    with sqlite3.connect(db) as conn:  # as a newer llmbox would have saved it
        conn.execute("UPDATE runs SET report = json_set(report, '$.energy', 1)")
    result = llmbox("report", "-o", str(tmp_path / "r.html"), code=2)
    assert "does not know: energy" in result.stderr  # not "no runs are stored yet"
    assert "no runs are stored yet" not in result.stderr
