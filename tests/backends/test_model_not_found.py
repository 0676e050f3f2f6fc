"""A model name the server does not have: the hint names the installed model it looks like."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from llmbox.backends.ollama import OllamaBackend
from llmbox.cli import app
from llmbox.client import OllamaClient
from llmbox.errors import ModelNotFound
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()


def _bench(fake: FakeOllama, *argv: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url, "--no-save", "--runs", "1",
                                 "--warmup", "0", "--prompt-tokens", "8", "--max-tokens", "4"])  # fmt: skip
    return result.exit_code, result.stderr.splitlines()


def _paths(fake: FakeOllama) -> list[str]:
    return [r["path"] for r in fake.requests]


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("llama3.2:3bb", "Hint: did you mean llama3.2:3b? If not: llmbox pull llama3.2:3bb"),
        ("lama3.2:3b", "Hint: did you mean llama3.2:3b? If not: llmbox pull lama3.2:3b"),
        ("qwen3", "Hint: did you mean qwen3:4b? If not: llmbox pull qwen3"),  # no :latest here
        ("gemma3:4b", "Hint: llmbox pull gemma3:4b"),  # nothing like it installed
    ],
)
def test_a_typo_is_answered_with_the_installed_name(
    fake_ollama: FakeOllama, typed: str, hint: str
) -> None:
    fake_ollama.add(FakeModel("llama3.2:3b"))
    code, lines = _bench(fake_ollama, typed)
    assert code == 4
    assert len(lines) == 2
    assert lines[0].startswith("Error: model ")
    assert lines[0].endswith("not found")
    assert lines[1] == hint
    assert not any(p in ("/api/chat", "/api/generate") for p in _paths(fake_ollama))


def test_a_comma_list_of_models_is_a_usage_error(fake_ollama: FakeOllama) -> None:
    code, lines = _bench(fake_ollama, "llama3.2,qwen3:4b")
    assert code == 2
    assert lines == [
        "Error: 'llama3.2,qwen3:4b' is a list: give each model as its own argument",
        "Hint: llmbox bench llama3.2 qwen3:4b",
    ]
    assert fake_ollama.requests == []


def _model_info(fake: FakeOllama, model: str) -> None:
    async def go() -> None:
        backend = OllamaBackend(OllamaClient(host=fake.url))
        try:
            await backend.model_info(model)
        finally:
            await backend.aclose()

    asyncio.run(go())


def test_a_found_model_costs_no_extra_request(fake_ollama: FakeOllama) -> None:
    _model_info(fake_ollama, "llama3.2")
    assert _paths(fake_ollama) == ["/api/show", "/api/tags"]


def test_the_installed_names_are_asked_for_only_when_the_model_is_missing(
    fake_ollama: FakeOllama,
) -> None:
    with pytest.raises(ModelNotFound) as err:
        _model_info(fake_ollama, "llama3.3")
    assert err.value.hint == "did you mean llama3.2:latest? If not: llmbox pull llama3.3"
    assert _paths(fake_ollama) == ["/api/show", "/api/tags"]


def test_a_server_that_fails_to_list_keeps_the_pull_hint(fake_ollama: FakeOllama) -> None:
    fake_ollama.on_request = lambda path: path == "/api/tags"  # cut the listing's connection
    with pytest.raises(ModelNotFound) as err:
        _model_info(fake_ollama, "llama3.3")
    assert err.value.hint == "llmbox pull llama3.3"


def test_the_openai_backend_says_did_you_mean_too(fake_ollama: FakeOllama) -> None:
    result = runner.invoke(app, ["bench", "qwen3:4bb", "--backend", "openai", "--host", fake_ollama.url,
                                 "--runs", "1", "--max-tokens", "4", "--prompt", "hi"])  # fmt: skip
    assert result.exit_code == 4, result.output
    assert "Hint: did you mean qwen3:4b? the server has: " in result.stderr


def test_several_missing_models_get_every_look_alike_and_one_pull(
    fake_ollama: FakeOllama,
) -> None:
    fake_ollama.add(FakeModel("llama3.2:3b"))
    code, lines = _bench(fake_ollama, "llama3.2:3bb", "gemma3:4b", "qwen3:4bb")
    assert code == 4
    assert lines == [
        "Error: models not found: llama3.2:3bb, gemma3:4b, qwen3:4bb",
        "Hint: did you mean llama3.2:3b for llama3.2:3bb; qwen3:4b for qwen3:4bb? If not: "
        "llmbox pull llama3.2:3bb gemma3:4b qwen3:4bb",
    ]
    code, lines = _bench(fake_ollama, "gemma3:4b", "phi4")
    assert lines[-1] == "Hint: llmbox pull gemma3:4b phi4"  # was only the first one's pull
