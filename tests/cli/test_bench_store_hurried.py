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
