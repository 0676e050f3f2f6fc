"""The OpenAI backend against Ollama's own /v1 (the fake's): counts from `usage`, said so."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeOllama, Fault

runner = CliRunner()


def test_usage_counts_with_client_side_durations_are_labelled(fake_ollama: FakeOllama) -> None:
    result = runner.invoke(app, ["bench", "llama3.2", "--backend", "openai", "--host", fake_ollama.url,
                                 "--runs", "2", "--max-tokens", "12", "--prompt-tokens", "32",
                                 "-f", "json", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    BenchReport.parse(data)
    (res,) = data["results"]
    for run in res["runs"]:
        assert run["counts_source"] == "usage"
        assert run["eval_count"] == 12
        assert run["prompt_eval_count"] > 0
        assert run["eval_duration_ns"] > 0  # measured client-side, first to last token
    # 500 tok/s on the fake; client-side timing of a 12-token stream is rough (and slow on a
    # loaded machine), but within a factor of four
    assert 125 < res["summary"]["decode_tps"]["mean"] < 1000


def test_mid_stream_error_without_done_fails_the_run(fake_ollama: FakeOllama) -> None:
    fake_ollama.inject(Fault("/v1/chat/completions", "error_after", after=3))
    result = runner.invoke(app, ["bench", "llama3.2", "--backend", "openai", "--host", fake_ollama.url,
                                 "--runs", "2", "--warmup", "0", "--max-tokens", "8", "--prompt", "hi",
                                 "-f", "json", "-q"])  # fmt: skip
    assert result.exit_code == 1, result.output
    errors = [r["error"] for r in json.loads(result.stdout)["results"][0]["runs"]]
    assert errors[0] is not None
    assert "[DONE]" in errors[0]
    assert errors[1] is None


def test_unknown_model_is_exit_4(fake_ollama: FakeOllama) -> None:
    result = runner.invoke(app, ["bench", "nope", "--backend", "openai", "--host", fake_ollama.url,
                                 "--runs", "1", "--max-tokens", "4", "--prompt", "hi"])  # fmt: skip
    assert result.exit_code == 4, result.output
