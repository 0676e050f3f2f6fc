"""hw-estimate describing a model from a running server and from a real GGUF file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llmbox.backends.embedded import resolve_model
from llmbox.cli import app
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()


def test_from_server_reads_api_show(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("custom:7b", parameter_size="7.2B", parameter_count=7_241_732_096,
                              quantization="Q8_0", block_count=32, head_count=32, head_count_kv=8,
                              embedding_length=4096))  # fmt: skip
    result = runner.invoke(app, ["hw-estimate", "--chip", "m4pro", "--model", "custom:7b",
                                 "--from-server", "--host", fake_ollama.url, "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = json.dumps(json.loads(result.stdout))
    assert "Q8_0" in text
    assert "/api/show" in [r["path"] for r in fake_ollama.requests]


def test_from_server_unknown_model_exits_4(fake_ollama: FakeOllama) -> None:
    result = runner.invoke(app, ["hw-estimate", "--chip", "m4pro", "--model", "nope:1b",
                                 "--from-server", "--host", fake_ollama.url])  # fmt: skip
    assert result.exit_code == 4, result.output


def test_gguf_file_is_read_for_quantization_and_size() -> None:
    path = resolve_model("smollm2:135m")
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "this", "--gguf", str(path), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    text = json.dumps(json.loads(result.stdout))
    assert "Q4_1" in text
