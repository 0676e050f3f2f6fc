"""Every server command against servers that are not Ollama, or that hang: one line, exit 3.

Time limits are shortened for the tests (``short_limits``); the ones a user gets are tested in
tests/client/test_http.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llmbox import defaults
from llmbox.cli import app
from tests.fakes.hostile import (
    WEB_UI_TITLE,
    HtmlServer,
    NotHttpServer,
    SilentServer,
    WrongJsonServer,
)
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()
LIMIT_S = 0.3


@pytest.fixture(autouse=True)
def short_limits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a silent server, the defaults a user gets, shortened so it costs a test 0.3 s, not
    30; servers that answer keep the real defaults (a short limit would flake on a busy CI)."""
    if "silent_server" not in request.fixturenames and "silent" not in request.node.name:
        return
    for name in ("CONNECT_TIMEOUT_S", "REQUEST_TIMEOUT_S", "STREAM_IDLE_TIMEOUT_S"):
        monkeypatch.setattr(defaults, name, LIMIT_S)
    monkeypatch.setattr(defaults, "QUICK_TIMEOUT_S", LIMIT_S / 2)


def _sync_file(tmp_path: Path) -> str:
    path = tmp_path / "machine.yaml"
    path.write_text("models: [llama3.2:3b]\n")
    return str(path)


COMMANDS = {
    "doctor": lambda tmp: ["doctor"],
    "doctor json": lambda tmp: ["doctor", "-f", "json"],
    "list": lambda tmp: ["list"],
    "ps": lambda tmp: ["ps"],
    "show": lambda tmp: ["show", "llama3.2"],
    "bench": lambda tmp: ["bench", "llama3.2", "--runs", "1", "--warmup", "0"],
    "sync --dry-run": lambda tmp: ["sync", _sync_file(tmp), "--dry-run"],
    "pull": lambda tmp: ["pull", "llama3.2"],
}


def _run(argv: list[str], host: str) -> Result:
    return runner.invoke(app, [*argv, "--host", host])


def _error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def _assert_no_crash(result: Result) -> None:
    assert "Traceback" not in result.output
    assert "report it" not in result.output


def _assert_one_line(result: Result, expected: str, code: int = 3) -> None:
    assert result.exit_code == code, result.output
    assert _error_lines(result) == [f"Error: {expected}"], result.stderr
    assert "Hint:" in result.stderr
    _assert_no_crash(result)
    assert "<" not in result.stderr  # never a page


@pytest.mark.parametrize("command", list(COMMANDS))
def test_html_page_on_the_port(command: str, html_server: HtmlServer, tmp_path: Path) -> None:
    result = _run(COMMANDS[command](tmp_path), html_server.url)
    _assert_one_line(
        result,
        f"the server at {html_server.url} answered with an HTML page, not Ollama's API "
        f"(titled '{WEB_UI_TITLE}')",
    )
    assert f"curl {html_server.url}/api/version" in result.stderr


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_of_the_wrong_shape(
    command: str, wrong_json_server: WrongJsonServer, tmp_path: Path
) -> None:
    result = _run(COMMANDS[command](tmp_path), wrong_json_server.url)
    assert result.exit_code == 3, result.output
    (line,) = _error_lines(result)
    assert line.startswith(
        f"Error: the server at {wrong_json_server.url} answered with JSON that is not "
        "Ollama's API ("
    )
    _assert_no_crash(result)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_404_page_prints_status_and_title_never_the_page(
    command: str, not_found_server: HtmlServer, tmp_path: Path
) -> None:
    result = _run(COMMANDS[command](tmp_path), not_found_server.url)
    assert result.exit_code == 3, result.output
    (line,) = _error_lines(result)
    assert "HTTP 404 Not Found" in line
    assert "lorem" not in result.output
    assert "<" not in result.stderr
    _assert_no_crash(result)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_silent_server_times_out_quickly(
    command: str, silent_server: SilentServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = _run(COMMANDS[command](tmp_path), silent_server.url)
    elapsed = time.monotonic() - started
    (line,) = _error_lines(result)
    assert line.startswith(
        f"Error: the server at {silent_server.url} accepted the connection but sent no answer "
        "within "
    ), result.stderr
    assert result.exit_code == 3
    assert "--timeout" in result.stderr
    assert elapsed < 5, elapsed
    _assert_no_crash(result)


def test_doctor_fails_fast_on_a_silent_server(silent_server: SilentServer) -> None:
    result = _run(["doctor"], silent_server.url)
    assert _error_lines(result) == [
        f"Error: the server at {silent_server.url} accepted the connection but sent no answer "
        f"within {LIMIT_S / 2:g} s"
    ]


def test_explicit_timeout_is_respected(
    silent_server: SilentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "REQUEST_TIMEOUT_S", 60.0)  # would hang the test
    result = runner.invoke(app, ["list", "--host", silent_server.url, "--timeout", "0.2"])
    assert result.exit_code == 3
    assert "sent no answer within 0.2 s" in result.stderr


def test_env_timeout_is_respected(
    silent_server: SilentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "REQUEST_TIMEOUT_S", 60.0)
    monkeypatch.setenv("LLMBOX_TIMEOUT", "0.2")
    result = runner.invoke(app, ["list", "--host", silent_server.url])
    assert result.exit_code == 3
    assert "sent no answer within 0.2 s" in result.stderr


def test_doctor_reports_an_html_page_as_a_problem_never_status_ok(html_server: HtmlServer) -> None:
    result = _run(["doctor", "-f", "json"], html_server.url)
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["reachable"], report["healthy"], report["version"]) == (False, False, None)
    (problem,) = report["problems"]
    assert "answered with an HTML page, not Ollama's API" in problem["what"]
    assert "--host" in problem["advice"]

    table = _run(["doctor"], html_server.url)
    assert "Ollama None" not in table.stdout
    assert "status     unreachable" in table.stdout
    assert f"problem    {problem['what']}" in table.stdout.splitlines()


def test_another_protocol_on_the_port(not_http_server: NotHttpServer) -> None:
    result = _run(["list"], not_http_server.url)
    assert result.exit_code == 3, result.output
    (line,) = _error_lines(result)
    assert line == (
        f"Error: the server at {not_http_server.url} closed the connection without answering "
        "(Server disconnected without sending a response.)"
    )


def test_unknown_host_names_the_dns_failure() -> None:
    result = runner.invoke(app, ["list", "--host", "nosuch-ollama.invalid"])
    assert result.exit_code == 3, result.output
    assert _error_lines(result) == [
        "Error: cannot resolve host 'nosuch-ollama.invalid' "
        "(no DNS name found for http://nosuch-ollama.invalid:11434)"
    ]
    assert "ollama serve" not in result.stderr
    doctor = runner.invoke(app, ["doctor", "--host", "nosuch-ollama.invalid", "-f", "json"])
    assert doctor.exit_code == 3
    assert "cannot resolve host 'nosuch-ollama.invalid'" in doctor.stdout


@pytest.mark.parametrize("server", ["html_server", "wrong_json_server", "silent_server"])
def test_openai_backend_maps_the_same_way(server: str, request: pytest.FixtureRequest) -> None:
    hostile = request.getfixturevalue(server)
    argv = ["bench", "m", "--backend", "openai", "--runs", "1", "--warmup", "0"]
    result = _run(argv, hostile.url)
    assert result.exit_code == 3, result.output
    (line,) = _error_lines(result)
    assert line.startswith(f"Error: the server at {hostile.url} ")
    _assert_no_crash(result)


def test_https_to_a_plain_http_server_says_so(html_server: HtmlServer) -> None:
    https = html_server.url.replace("http://", "https://")
    result = runner.invoke(app, ["list", "--host", https])
    assert result.exit_code == 3, result.output
    assert _error_lines(result) == [
        f"Error: the TLS handshake with {https} failed (wrong version number)"
    ]
    assert f"Hint: it speaks plain HTTP: use {html_server.url}" in result.stderr


def test_a_stream_silent_mid_answer_fails_the_run_naming_the_gap(
    fake_ollama: FakeOllama,
) -> None:
    fake_ollama.add(FakeModel("slow", decode_tps=0.5, load_s=0.0))  # a token after 2 s
    fake_ollama.num_parallel = 4  # the abandoned calibration request holds no slot the run needs
    argv = ["bench", "slow", "--runs", "1", "--warmup", "0", "--max-tokens", "1"]
    result = runner.invoke(app, [*argv, "--host", fake_ollama.url, "--timeout", "0.8"])
    gap = f"no data from {fake_ollama.url} for 0.8 s (the idle limit; raise it with --timeout)"
    assert result.exit_code == 1, result.output
    assert f"run failed: {gap}" in result.stderr.splitlines()
    assert _error_lines(result) == ["Error: 1 of 1 runs failed"]
