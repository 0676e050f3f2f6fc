"""Every command alike: flags, global options, help text, start-up cost (issue 10, items 7, 11, 12, 19)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import COMMANDS, app, load_command
from tests.fakes.ollama import FakeOllama

runner = CliRunner()
ALL = sorted(COMMANDS)
#: Typer's metavars that are Python type names (``<bool>`` on a flag reads as "takes a value").
PYTHON_TYPES = re.compile(r"<(bool|str|int|float|path|file|list\[[^>]*\]|int range|float range)>")


def _help(argv: list[str], columns: int = 100) -> str:
    result = runner.invoke(app, [*argv, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def _flat(text: str) -> str:
    """Help as one line: box drawing and line breaks gone, so wrapped phrases can be found."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("name", ALL)
def test_no_flag_is_bound_twice(name: str) -> None:
    """`hw-estimate -q` was both --quant and --quiet: the second binding silently won."""
    command = load_command(name)
    ctx = command.make_context(name, ["--help"], resilient_parsing=True)
    flags = [
        opt for p in command.get_params(ctx) for opt in [*p.opts, *p.secondary_opts] if "-" in opt
    ]
    twice = [flag for flag, n in Counter(flags).items() if n > 1]
    assert not twice, f"llmbox {name}: {twice} bound to more than one option"


def test_hw_estimate_quant_and_quiet_are_separate() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "m4pro", "--params", "7b", "--quant", "q8_0", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "Q8_0" in result.stdout


@pytest.mark.parametrize("name", ALL)
def test_every_command_takes_quiet_and_debug_after_its_name(name: str) -> None:
    for flags in (["--quiet"], ["-q"], ["--debug"], ["--quiet", "--debug"]):
        result = runner.invoke(app, [name, *flags, "--help"])
        assert result.exit_code == 0, f"llmbox {name} {' '.join(flags)}: {result.output}"


def _dead_host() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_works_before_or_after_the_command(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBOX_DEBUG", "")  # --debug sets it; restored after the test
    argv = ["list", "--host", _dead_host()]
    plain = runner.invoke(app, argv)
    assert plain.exit_code == 3
    assert "Traceback" not in plain.output
    result = runner.invoke(app, ["--debug", *argv] if where == "before" else [*argv, "--debug"])
    assert "Traceback" in result.stderr  # the traceback is shown ...
    assert "ServerUnreachable" in result.stderr
    assert result.exit_code == 3  # ... and the exit code is still the error's own


@pytest.mark.parametrize("name", ["", *ALL])
def test_help_has_no_python_type_metavars(name: str) -> None:
    text = _help([name] if name else [])
    found = PYTHON_TYPES.findall(text)
    assert not found, f"llmbox {name} --help shows {found}"


@pytest.mark.parametrize("name", ALL)
def test_help_shows_every_default(name: str) -> None:
    """A default written into the help text survives rich markup (`e.g. 128,512 .` lost it), and
    every option with a default Typer knows shows it."""
    command = load_command(name)
    flat = _flat(_help([name]))
    for param in command.params:
        text = getattr(param, "help", None) or ""
        for written in re.findall(r"\[default: [^\]]*\]", text):
            assert written in flat, f"llmbox {name} {param.opts}: {written} not shown"
        default: Any = param.default
        if (
            param.param_type_name == "option"
            and not getattr(param, "is_flag", False)
            and default not in (None, (), [])
            and getattr(param, "show_default", True) is not False
        ):
            value = getattr(default, "value", default)
            shown = re.search(rf"\[default: {re.escape(str(value))}[;\]]", flat)
            assert shown, f"llmbox {name} {param.opts[0]}: no default"


@pytest.mark.parametrize("name", ALL)
def test_help_paragraphs_wrap_and_exit_codes_list_2(name: str) -> None:
    command = load_command(name)
    for para in (command.help or "").split("\n\n"):
        assert "\n" not in para, f"llmbox {name}: a paragraph with a hard line break: {para!r}"
        if "xit code" in para:
            assert re.search(r"\b2 [a-z]", para), f"llmbox {name}: exit 2 missing: {para}"
    text = _help([name], columns=80)
    assert all(len(line) <= 80 for line in text.splitlines())


def test_help_on_a_narrow_terminal_keeps_the_exit_codes_together() -> None:
    text = _flat(_help(["bench"], columns=80))
    assert re.search(r"Exit codes: 0 ok, 1 .*, 2 usage error, 3 .*, 130 interrupted", text)


def test_start_up_pays_for_no_pydantic_and_version_for_no_typer() -> None:
    """Typer converts absent values through pydantic (2× a bare app's start-up for `bench
    --help`); llmbox skips that, and its plain help needs no rich. `--version` imports no Typer
    at all."""
    code = (
        "import sys\n"
        "from llmbox.cli import COMMANDS, app\n"
        "for name in ['', *COMMANDS]:\n"
        "    try: app([name, '--help'] if name else ['--help'], prog_name='llmbox')\n"
        "    except SystemExit: pass\n"
        "print('pydantic' in sys.modules, 'rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"  # plain help: no rich either
    code = (
        "import sys; sys.argv = ['llmbox', '--version']\n"
        "from llmbox.cli import main; main()\n"
        "print('typer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0].startswith("llmbox ")
    assert out.stdout.splitlines()[-1] == "False"


@pytest.mark.parametrize("argv", [["--version"], ["-V"]])
def test_version_fast_path_prints_what_the_app_prints(argv: list[str]) -> None:
    fast = subprocess.run(
        [sys.executable, "-m", "llmbox", *argv], capture_output=True, text=True, check=True
    )
    slow = runner.invoke(app, ["--debug", *argv])
    assert fast.stdout == slow.stdout


@pytest.mark.parametrize("argv", [["-q", "chips", "-f", "json"], ["chips", "-f", "json", "-q"]])
def test_quiet_before_or_after_the_command(argv: list[str]) -> None:
    result = runner.invoke(app, [*argv, "--vendor", "acme"])
    assert result.exit_code == 2
    assert "Error:" in result.stderr  # errors survive --quiet
    quiet = runner.invoke(app, ["-q", "list", "--host", _dead_host()])
    assert quiet.exit_code == 3


def test_quiet_before_the_command_silences_notes(fake_ollama: FakeOllama) -> None:
    url = fake_ollama.url
    for model in list(fake_ollama.models):
        runner.invoke(app, ["rm", model, "--host", url])
    loud = runner.invoke(app, ["list", "--host", url])
    assert "No models installed" in loud.stderr
    quiet = runner.invoke(app, ["-q", "list", "--host", url])
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert "NAME" in quiet.stdout  # data stays
