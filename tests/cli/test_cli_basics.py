"""The CLI as a user meets it: version, help, exit codes, error lines, docs in sync."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from llmbox import __version__
from llmbox.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"llmbox {__version__}"


def test_help_lists_command_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("bench", "doctor"):
        assert name in result.output


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor"],
        ["bench", "llama3.2", "--runs", "1"],
    ],
)
def test_server_commands_exit_3_with_one_line_message_when_unreachable(argv: list[str]) -> None:
    host = f"127.0.0.1:{_dead_port()}"
    result = runner.invoke(app, [*argv, "--host", host])
    assert result.exit_code == 3, result.output
    assert f"Cannot reach Ollama at http://{host}" in result.output
    assert "Traceback" not in result.output


def test_ollama_host_env_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _dead_port()
    monkeypatch.setenv("OLLAMA_HOST", f":{port}")
    result = runner.invoke(app, ["doctor", "-f", "json"])
    assert result.exit_code == 3
    assert f'"host": "http://127.0.0.1:{port}"' in result.stdout


def test_bad_option_value_is_usage_error_exit_2() -> None:
    result = runner.invoke(app, ["bench", "m", "--concurrency", "two"])
    assert result.exit_code == 2
    assert "Error: --concurrency: 'two' is not a whole number" in result.output
    assert "Hint:" in result.output


def test_typer_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["bench", "m", "--runs", "0"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_unexpected_errors_have_no_traceback_unless_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import llmbox.bench.grid as grid

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(grid, "cases_from_options", boom)
    monkeypatch.setattr("llmbox.bench.plan.cases_from_options", boom)
    result = runner.invoke(app, ["bench", "m"])
    assert result.exit_code == 1
    assert "Error: unexpected RuntimeError: kaput" in result.output
    assert "Traceback" not in result.output
    debug = runner.invoke(app, ["--debug", "bench", "m"])
    assert "Traceback" in debug.stderr
    assert "RuntimeError: kaput" in debug.stderr
    assert debug.exit_code == 1


def test_cli_reference_is_up_to_date() -> None:
    from llmbox.cli._docgen import render

    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/cli.md is stale: run `make docs`"


def test_command_table_matches_each_commands_docstring() -> None:
    import importlib

    from llmbox.cli import COMMANDS

    for name, (module, attr, short) in COMMANDS.items():
        target = getattr(importlib.import_module(module), attr)
        doc = (target.info.help if isinstance(target, typer.Typer) else target.__doc__) or ""
        assert doc.strip().splitlines()[0] == short, name


def test_root_help_builds_no_command() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from llmbox.cli import app\n"
        "try: app(['--help'], prog_name='llmbox')\n"
        "except SystemExit: pass\n"
        "from llmbox.cli import COMMANDS\n"
        "print(sorted({m for m, _, _ in COMMANDS.values()} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"  # not bench, hw, models or doctor
