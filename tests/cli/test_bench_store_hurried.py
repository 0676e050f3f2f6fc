"""``bench`` meeting the results store the way a hurried user points it: --db typos, --no-save
with a baseline from the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama

runner = CliRunner()


@pytest.fixture
def bench(fake_ollama: FakeOllama) -> list[str]:
    return ["bench", "llama3.2", "--runs", "2", "--max-tokens", "8", "--host", fake_ollama.url]


def test_a_misspelt_db_with_no_save_and_a_stored_baseline_is_named(
    bench: list[str], tmp_path: Path
) -> None:
    db = tmp_path / "history.db"
    assert runner.invoke(app, [*bench, "--db", str(db)]).exit_code == 0
    typo = tmp_path / "histroy.db"
    result = runner.invoke(app, [*bench, "--no-save", "--baseline", "last", "--db", str(typo)])
    assert result.exit_code == 2, result.output
    assert f"no history database at {typo}" in result.stderr  # not "no earlier run in …"
    assert not typo.exists()
    # spelt right, the same command compares with the run saved above
    result = runner.invoke(app, [*bench, "--no-save", "--baseline", "last", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "baseline run 1" in result.stdout


@pytest.mark.parametrize("name", ["run.json", "results.CSV"])
def test_db_named_like_a_results_file_is_refused_not_made_a_database(
    bench: list[str], tmp_path: Path, name: str
) -> None:
    path = tmp_path / name  # -o json:run.json meant
    result = runner.invoke(app, [*bench, "--db", str(path)])
    assert result.exit_code == 2, result.output
    assert "named like a results file" in result.stderr
    assert "-o FORMAT:PATH" in result.stderr
    assert not path.exists()  # no SQLite file under a results file's name


def test_db_naming_a_saved_result_is_refused_by_bench_and_history(
    bench: list[str], tmp_path: Path
) -> None:
    saved = tmp_path / "run.json"
    assert runner.invoke(app, [*bench, "--no-save", "-o", f"json:{saved}"]).exit_code == 0
    before = saved.read_bytes()
    for argv in ([*bench, "--db", str(saved)], ["history", "--db", str(saved)]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, result.output  # not 6, "corrupt database"
        assert "llmbox history import PATH" in result.stderr
    assert saved.read_bytes() == before


def test_a_store_named_json_already_is_still_a_store(bench: list[str], tmp_path: Path) -> None:
    from llmbox.store import open_store

    made = tmp_path / "odd.db"
    open_store(f"sqlite:///{made}").close()
    db = made.rename(tmp_path / "odd.json")  # (made before names were checked, say)
    assert runner.invoke(app, [*bench, "--db", str(db)]).exit_code == 0
    listed = runner.invoke(app, ["history", "--db", str(db), "-f", "json"])
    assert listed.exit_code == 0, listed.output


def test_a_bad_llmbox_db_file_says_it_came_from_the_environment(
    bench: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for value in (tmp_path, tmp_path / "run.json"):  # a directory; a results file
        monkeypatch.setenv("LLMBOX_DB", str(value))
        result = runner.invoke(app, bench)
        assert result.exit_code == 2, result.output
        assert "(from $LLMBOX_DB)" in result.stderr
        assert "or unset LLMBOX_DB" in result.stderr
    result = runner.invoke(app, [*bench, "--db", str(tmp_path)])  # the flag's own: no mention
    assert result.exit_code == 2, result.output
    assert "LLMBOX_DB" not in result.stderr


def test_a_tag_on_a_run_that_is_not_saved_is_said_to_be_ignored(
    bench: list[str], tmp_path: Path
) -> None:
    result = runner.invoke(app, [*bench, "--no-save", "--tag", "ci=nightly"])
    assert result.exit_code == 0, result.output
    assert "--tag labels a saved run: ignored with --no-save" in result.stderr
