"""`llmbox cost --run ID|last`: the local side from a stored run, the same figures as
`--from-bench` on the very same report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from llmbox.store import open_store

runner = CliRunner()
REPORT = Path(__file__).parents[1] / "data" / "bench_v1_first_wave.json"
ARGS = ["--model", "qwen3:4b", "--watts", "200", "--api-price", "in=0.05,out=0.3", "-f", "json"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    report = BenchReport.load(REPORT)
    with open_store(url) as store:
        store.save(report)
        other = report.model_copy(deep=True)
        other.started_at = "2020-01-01T00:00:00Z"  # older, and only one model
        other.results = [r for r in other.results if r.model != "qwen3:4b"]
        store.save(other)
    return url


def cost(*args: str) -> object:
    return runner.invoke(app, ["cost", *args])


def test_run_last_and_run_id_give_what_from_bench_gives(db: str) -> None:
    expected = cost("--from-bench", str(REPORT), *ARGS)
    assert expected.exit_code == 0, expected.output
    by_id = cost("--run", "1", "--db", db, *ARGS)
    last = cost("--run", "last", "--db", db, *ARGS)
    for done in (by_id, last):
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout) == json.loads(expected.stdout)
        assert "run 1: " in done.stderr
        assert "using the fastest, 'pp512 tg128 c4'" in done.stderr


def test_run_last_is_the_latest_run_of_the_model(db: str) -> None:
    with open_store(db) as store:
        newest = store.load(1).model_copy(deep=True)
        newest.started_at = "2030-01-01T00:00:00Z"
        newest.results = [r for r in newest.results if r.model != "qwen3:4b"]
        store.save(newest)
    done = cost("--run", "last", "--db", db, *ARGS)
    assert done.exit_code == 0, done.output
    assert "run 1: " in done.stderr  # run 3 is newer but did not measure qwen3:4b


def test_run_reads_the_default_store(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOX_DB", db)
    assert cost("--run", "last", *ARGS).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "99"], "no run 99 in"),
        (["--run", "first"], "--run 'first': expected a run ID or last"),
        (["--run", "last", "--model", "nope:1b"], "no stored run of nope:1b"),
        (["--run", "1", "--model", "nope:1b"], "model 'nope:1b' is not in the report"),
        (["--run", "1", "--from-bench", str(REPORT)], "--from-bench or --run, not both"),
    ],
)
def test_wrong_runs_are_one_line_errors(db: str, args: list[str], message: str) -> None:
    done = cost(*args, "--db", db, "--watts", "200", "--api", "gpt-5")
    assert done.exit_code == 2, done.output
    assert message in done.stderr
    assert "Hint:" in done.stderr
    assert "Traceback" not in done.output


def test_an_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    done = cost("--run", "last", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--api", "gpt-5")
    assert done.exit_code == 2
    assert "no stored run in" in done.stderr
    assert "llmbox bench" in done.stderr
    assert not (tmp_path / "none.db").exists()


def test_db_without_run_is_a_usage_error(tmp_path: Path) -> None:
    done = cost("--db", f"sqlite:///{tmp_path / 'h.db'}", "--chip", "m4pro", "--model",
                "qwen3:4b", "--api", "gpt-5")  # fmt: skip
    assert done.exit_code == 2
    assert "--db is where --run looks" in done.stderr


def test_the_run_it_uses_is_named_with_its_start_to_the_second(db: str) -> None:
    with open_store(db) as store:
        newest = store.load(1).model_copy(deep=True)
        newest.started_at = "2030-01-01T08:30:15.123456Z"  # stamped as bench stamps now
        store.save(newest)
    done = cost("--run", "last", "--db", db, *ARGS)
    assert done.exit_code == 0, done.output
    assert "started 2030-01-01T08:30:15Z" in done.stderr
