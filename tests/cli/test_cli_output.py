"""What each command prints fits the terminal, and colour and bars follow the documented rules
(issue 10, items 13 and 15; the rules are in llmbox/report/output.py and README "For CI scripts")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
REDRAW = re.compile(r"\x1b\[(?:\?25l|2K|1A|\d*F|\d*G)")  # hide cursor, erase/move line: a live bar
ANY_ESCAPE = "\x1b["

TABLES = {
    "list": ["list"],
    "ps": ["ps"],
    "show": ["show", "llama3.2"],
    "load": ["load", "llama3.2"],
    "unload": ["unload", "llama3.2"],
    "doctor": ["doctor"],
    "pull": ["pull", "smollm2:135m"],
    "rm": ["rm", "qwen3:4b"],
    "sync": ["sync", "--dry-run", str(ROOT / "configs" / "machine.yaml")],
    "chips": ["chips"],
    "hw-estimate --compare": ["hw-estimate", "--chip", "m2", "--chip", "m4pro", "--model", "llama3.1:8b"],
    "hw-estimate --list-models": ["hw-estimate", "--list-models"],
    "bench": ["bench", "llama3.2", "qwen3:4b", "--runs", "1", "--warmup", "0",
              "--prompt-tokens", "8", "--max-tokens", "4", "--concurrency", "1,2"],
}  # fmt: skip


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("name", list(TABLES))
def test_output_fits_the_terminal(name: str, width: int, fake_ollama: FakeOllama) -> None:
    if name == "ps":
        runner.invoke(app, ["load", "llama3.2", "--host", fake_ollama.url])
    env = {"COLUMNS": str(width), "OLLAMA_HOST": fake_ollama.url}
    result = runner.invoke(app, TABLES[name], env=env)
    assert result.exit_code == 0, result.output
    # Tables and aligned lines (stdout) must fit; prose (no two-space gap) the terminal wraps at
    # its spaces, as it does the progress and warning lines on stderr.
    aligned = [line for line in result.stdout.splitlines() if "  " in line.strip() or "─" in line]
    wide = [line for line in aligned if len(line) > width]
    assert not wide, f"llmbox {name} at COLUMNS={width}:\n" + "\n".join(map(repr, wide))


def test_hw_estimate_text_fits_80_columns() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "m4pro", "--model", "llama3.2:3b"], env={"COLUMNS": "80"}
    )
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output


# -- colour and bars -----------------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str], *, tty: bool) -> tuple[int, str]:
    """Run llmbox in a fresh process, stdout and stderr on a pseudo-terminal or on pipes."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update({"COLUMNS": "100", "TERM": "xterm-256color", **env})
    cmd = [sys.executable, "-m", "llmbox", *argv]
    if not tty:
        done = subprocess.run(
            cmd, env=full_env, capture_output=True, text=True, timeout=60, check=False
        )
        return done.returncode, done.stdout + done.stderr
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=full_env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def slow_pull(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.pull_chunk = 20_000_000
    fake_ollama.pull_delay_s = 0.02  # long enough for a bar to be drawn
    return fake_ollama


def test_terminal_gets_colour_and_bars(slow_pull: FakeOllama) -> None:
    code, out = _run(["pull", "smollm2:135m", "--host", slow_pull.url], {}, tty=True)
    assert code == 0, out
    assert REDRAW.search(out), "no live bar on a terminal"
    assert SGR_COLOUR.search(out), "no colour on a terminal"


def test_no_color_keeps_the_bars_without_colour(slow_pull: FakeOllama) -> None:
    code, out = _run(["pull", "smollm2:135m", "--host", slow_pull.url], {"NO_COLOR": "1"}, tty=True)
    assert code == 0, out
    assert REDRAW.search(out), "NO_COLOR is about colour: the bars stay"
    assert not SGR_COLOUR.search(out), repr(SGR_COLOUR.search(out))


def test_no_color_error_line_is_plain_on_a_terminal(fake_ollama: FakeOllama) -> None:
    code, out = _run(["show", "nosuch", "--host", fake_ollama.url], {}, tty=True)
    assert code == 4
    assert SGR_COLOUR.search(out)
    code, out = _run(["show", "nosuch", "--host", fake_ollama.url], {"NO_COLOR": "1"}, tty=True)
    assert code == 4
    assert "Error: model" in out
    assert not SGR_COLOUR.search(out)


def test_dumb_terminal_gets_plain_lines(slow_pull: FakeOllama) -> None:
    code, out = _run(["pull", "smollm2:135m", "--host", slow_pull.url], {"TERM": "dumb"}, tty=True)
    assert code == 0, out
    assert ANY_ESCAPE not in out
    assert "pulling" in out


def test_pipes_get_plain_progress_lines_and_no_escapes(slow_pull: FakeOllama) -> None:
    code, out = _run(["pull", "smollm2:135m", "--host", slow_pull.url], {}, tty=False)
    assert code == 0, out
    assert ANY_ESCAPE not in out
    assert re.search(r"pulling \w{12} +100%", out)


def test_force_color_colours_a_pipe_unless_no_color(fake_ollama: FakeOllama) -> None:
    argv = ["show", "nosuch", "--host", fake_ollama.url]
    assert SGR_COLOUR.search(_run(argv, {"FORCE_COLOR": "1"}, tty=False)[1])
    assert not SGR_COLOUR.search(_run(argv, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, tty=False)[1])


def test_quiet_on_a_terminal_draws_nothing(slow_pull: FakeOllama) -> None:
    code, out = _run(
        ["pull", "smollm2:135m", "--host", slow_pull.url, "-q", "-f", "json"], {}, tty=True
    )
    assert code == 0, out
    assert not REDRAW.search(out)
    assert '"model": "smollm2:135m"' in out
