"""`llmbox bench compare` given two runs that measured different things."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests.bench.test_compare import _report

runner = CliRunner()


def _save(path: Path, report: BenchReport) -> str:
    path.write_text(json.dumps(report.to_json_dict()), encoding="utf-8")
    return str(path)


def test_runs_with_nothing_in_common_are_a_usage_error(tmp_path: Path) -> None:
    a = _save(tmp_path / "a.json", _report(("llama3.2:3b", "pp16 tg8", {"decode_tps": (50, 1)})))
    b = _save(
        tmp_path / "b.json",
        _report(
            ("qwen3:4b", "pp16 tg8", {"decode_tps": (40, 1)}),
            ("llama3.2:3b", "pp512 tg128", {"decode_tps": (45, 1)}),
        ),
    )
    result = runner.invoke(app, ["bench", "compare", a, b])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # no table of "new"/"missing" rows that reads like "no change"
    first, hint = result.stderr.splitlines()
    assert first.startswith("Error: ")
    assert "share no model and case" in first
    assert "a.json measured llama3.2:3b pp16 tg8;" in first
    assert "b.json measured qwen3:4b pp16 tg8, llama3.2:3b pp512 tg128" in first
    assert hint.startswith("Hint: ")
    assert "--prompt-tokens/--max-tokens" in hint


def test_many_pairs_are_cut_short(tmp_path: Path) -> None:
    many = [(f"m{i}:1b", "tg8", {"decode_tps": (10.0, 1.0)}) for i in range(7)]
    a = _save(tmp_path / "a.json", _report(*many))
    b = _save(tmp_path / "b.json", _report(("other:1b", "tg8", {"decode_tps": (10.0, 1.0)})))
    result = runner.invoke(app, ["bench", "compare", a, b])
    assert result.exit_code == 2, result.output
    assert "m0:1b tg8, m1:1b tg8, m2:1b tg8 and 4 more" in result.stderr


def test_a_run_without_results_measured_nothing(tmp_path: Path) -> None:
    a = _save(tmp_path / "a.json", _report())
    b = _save(tmp_path / "b.json", _report(("m:1b", "tg8", {"decode_tps": (10.0, 1.0)})))
    result = runner.invoke(app, ["bench", "compare", a, b])
    assert result.exit_code == 2, result.output
    assert "a.json measured nothing" in result.stderr


def test_partial_overlap_compares_the_shared_pairs_and_lists_the_rest(tmp_path: Path) -> None:
    a = _save(
        tmp_path / "a.json",
        _report(
            ("llama3.2:3b", "tg8", {"decode_tps": (50.0, 0.5)}),
            ("gone:1b", "tg8", {"decode_tps": (20.0, 0.5)}),
        ),
    )
    b = _save(
        tmp_path / "b.json",
        _report(
            ("llama3.2:3b", "tg8", {"decode_tps": (25.0, 0.5)}),
            ("added:1b", "tg8", {"decode_tps": (30.0, 0.5)}),
        ),
    )
    result = runner.invoke(app, ["bench", "compare", a, b, "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = {(r["model"], r["status"]) for r in json.loads(result.stdout)["rows"]}
    assert rows == {("llama3.2:3b", "worse"), ("added:1b", "new"), ("gone:1b", "missing")}
