"""``llmbox doctor`` end to end against the fake Ollama server: healthy, spilled, down, env."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner, Result

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama

runner = CliRunner()


def llmbox(server: FakeOllama, *argv: str) -> Result:
    return runner.invoke(app, [*argv, "--host", server.url])


def doctor(server: FakeOllama, *argv: str) -> Result:
    return llmbox(server, "doctor", *argv)


def _dead_host() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def test_healthy_server_exit_0(fake_ollama: FakeOllama) -> None:
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["host"] == fake_ollama.url
    assert report["reachable"] is True
    assert report["version"] == "0.33.0-rc2"
    assert report["models"] == ["llama3.2:latest", "qwen3:4b", "llama3.2-vision:11b"]
    assert report["loaded"] == []
    assert report["problems"] == []
    assert report["healthy"] is True
    assert result.stderr == ""

    table = doctor(fake_ollama)
    assert table.exit_code == 0
    assert table.stdout.splitlines() == [
        f"server     {fake_ollama.url}",
        "status     ok, Ollama 0.33.0-rc2",
        "models     3 installed: llama3.2:latest, qwen3:4b, llama3.2-vision:11b",
        "loaded     none",
        "healthy    yes",
    ]
    assert {r["path"] for r in fake_ollama.requests} == {"/api/version", "/api/tags", "/api/ps"}
    assert fake_ollama.loaded == {}  # doctor only looks


def test_a_model_spilling_to_the_cpu_is_a_problem_with_advice_exit_1(
    fake_ollama: FakeOllama,
) -> None:
    assert llmbox(fake_ollama, "load", "llama3.2-vision:11b").exit_code == 0
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    (loaded,) = report["loaded"]
    assert loaded == {"name": "llama3.2-vision:11b", "size": 7_901_829_417,
                      "size_vram": 7_348_701_358, "processor": "7%/93% CPU/GPU",
                      "context_length": 4096}  # fmt: skip
    (problem,) = report["problems"]
    assert problem["what"] == (
        "llama3.2-vision:11b does not fit on the GPU (7%/93% CPU/GPU); CPU layers slow it down"
    )
    assert "smaller quantization" in problem["advice"]

    table = doctor(fake_ollama)
    assert table.exit_code == 1
    lines = table.stdout.splitlines()
    assert "loaded     llama3.2-vision:11b  7.9 GB  7%/93% CPU/GPU  ctx 4096" in lines
    assert f"problem    {problem['what']}" in lines
    assert f"  fix      {problem['advice']}" in lines
    assert "healthy    yes" not in lines


def test_a_model_all_on_the_gpu_is_no_problem(fake_ollama: FakeOllama) -> None:
    assert llmbox(fake_ollama, "load", "qwen3:4b").exit_code == 0
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loaded"][0]["processor"] == "100% GPU"


def test_unreachable_exit_3_with_the_one_line_message() -> None:
    host = _dead_host()
    result = runner.invoke(app, ["doctor", "--host", host])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: Cannot reach Ollama at http://{host} — is `ollama serve` running? "
        "Set OLLAMA_HOST or --host."
    ]
    assert "Traceback" not in result.output
    assert "status     unreachable" in result.stdout

    report = json.loads(runner.invoke(app, ["doctor", "--host", host, "-f", "json"]).stdout)
    assert (report["reachable"], report["healthy"], report["version"]) == (False, False, None)


def test_quantized_kv_cache_without_flash_attention_is_reported(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q8_0")
    monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", "0")
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["env"] == {"OLLAMA_FLASH_ATTENTION": "0", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
    (problem,) = report["problems"]
    assert problem["what"] == (
        "OLLAMA_KV_CACHE_TYPE=q8_0 needs flash attention, but OLLAMA_FLASH_ATTENTION=0"
    )
    assert "OLLAMA_FLASH_ATTENTION" in problem["advice"]

    table = doctor(fake_ollama)
    assert table.exit_code == 1
    assert "env        OLLAMA_KV_CACHE_TYPE=q8_0" in table.stdout.splitlines()
    assert f"problem    {problem['what']}" in table.stdout.splitlines()


def test_flash_attention_on_with_a_quantized_kv_cache_is_fine(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q8_0")
    monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", "1")
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["problems"] == []


def test_no_models_installed_is_a_problem(fake_ollama: FakeOllama) -> None:
    fake_ollama.models.clear()
    result = doctor(fake_ollama, "-f", "json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["what"] == "no models are installed"
    assert "llmbox pull" in problem["advice"]


def test_doctor_reports_a_server_that_cuts_the_connection(fake_ollama: FakeOllama) -> None:
    fake_ollama.on_request = lambda path: path == "/api/version"
    result = CliRunner().invoke(app, ["doctor", "--host", fake_ollama.url, "-f", "json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["reachable"], report["healthy"], report["version"]) == (False, False, None)
    what = f"the server at {fake_ollama.url} closed the connection without answering"
    assert report["problems"][0]["what"].startswith(what)
    assert result.stderr.startswith(f"Error: {what}")

    table = CliRunner().invoke(app, ["doctor", "--host", fake_ollama.url])
    assert "Ollama None" not in table.stdout
    assert "status     unreachable" in table.stdout


def test_doctor_reports_a_server_error_on_version_never_status_ok(fake_ollama: FakeOllama) -> None:
    from tests.fakes.ollama import Fault

    fake_ollama.inject(Fault("/api/version", "error", status=500, message="boom"))
    result = CliRunner().invoke(app, ["doctor", "--host", fake_ollama.url])
    assert result.exit_code == 3, result.output
    assert "Ollama None" not in result.stdout
    assert f"problem    /api/version did not answer like Ollama: {fake_ollama.url} said: boom" in (
        result.stdout.splitlines()
    )
