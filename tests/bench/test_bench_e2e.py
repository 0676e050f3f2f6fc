"""`llmbox bench` end to end against the fake Ollama, whose timings are the ground truth."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeModel, FakeOllama, Fault

runner = CliRunner()


def bench(fake: FakeOllama, *argv: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url, "-f", "json", "-q"])
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    BenchReport.parse(data)
    return data


def _rel_err(measured: float, truth: float) -> float:
    return abs(measured - truth) / truth


@pytest.mark.parametrize("prompt_cache", [True, False])
def test_rates_match_ground_truth_within_2_percent(
    fake_ollama: FakeOllama, prompt_cache: bool
) -> None:
    fake_ollama.prompt_cache = prompt_cache
    model = fake_ollama.add(FakeModel("truth:1b", prefill_tps=3000.0, decode_tps=400.0))
    data = bench(
        fake_ollama, "truth:1b", "--runs", "3", "--prompt-tokens", "300", "--max-tokens", "40"
    )
    summary = data["results"][0]["summary"]
    assert _rel_err(summary["decode_tps"]["mean"], model.decode_tps) < 0.02
    assert _rel_err(summary["prefill_tps"]["mean"], model.prefill_tps) < 0.02
    for run in data["results"][0]["runs"]:
        assert run["eval_count"] == 40
        assert 270 <= run["prompt_eval_count"] <= 330  # calibrated to about --prompt-tokens
    if prompt_cache:  # every request started with a new marker: nothing but the template reused
        assert max(t["cached_tokens"] for t in fake_ollama.truths[-3:]) <= 1


def test_reported_cached_tokens_are_subtracted(fake_ollama: FakeOllama) -> None:
    # Even when prompts share a prefix (a literal prompt), a server that reports its cache hits
    # gives an honest prefill rate.
    fake_ollama.report_cached_count = True
    model = fake_ollama.add(FakeModel("cached:1b", prefill_tps=2500.0, decode_tps=500.0))
    data = bench(
        fake_ollama,
        "cached:1b",
        "--runs",
        "3",
        "--prompt",
        "same words " * 100,
        "--max-tokens",
        "8",
    )
    result = data["results"][0]
    assert all(r["cached_prompt_tokens"] is not None for r in result["runs"])
    assert _rel_err(result["summary"]["prefill_tps"]["mean"], model.prefill_tps) < 0.02


def test_thinking_tokens_are_separated(fake_ollama: FakeOllama) -> None:
    data = bench(
        fake_ollama, "qwen3:4b", "--runs", "2", "--max-tokens", "30", "--prompt-tokens", "64"
    )
    result = data["results"][0]
    for run in result["runs"]:
        assert run["thinking_tokens"] == 20
        assert run["eval_count"] == 30
        assert run["ttft_answer_s"] > run["ttft_s"]
    assert result["summary"]["answer_tps"]["mean"] == pytest.approx(
        result["summary"]["decode_tps"]["mean"] / 3, rel=0.02
    )


def test_ttft_is_close_to_the_servers_first_token(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("ttft:1b", prefill_tps=1000.0, decode_tps=200.0))
    data = bench(
        fake_ollama, "ttft:1b", "--runs", "2", "--prompt-tokens", "200", "--max-tokens", "5"
    )
    truth = fake_ollama.truths[-1]
    server_ttft = (truth["t_first_token_ns"] - truth["t_request_ns"]) / 1e9
    measured = data["results"][0]["runs"][-1]["ttft_s"]
    assert measured >= server_ttft
    assert measured - server_ttft < 0.05  # loopback; generous for a busy CI machine


def test_cpu_spill_and_provenance(fake_ollama: FakeOllama) -> None:
    data = bench(
        fake_ollama,
        "llama3.2-vision:11b",
        "--runs",
        "1",
        "--max-tokens",
        "4",
        "--prompt-tokens",
        "32",
    )
    result = data["results"][0]
    assert result["model_info"]["processor"] == "7%/93% CPU/GPU"
    assert result["model_info"]["digest"] == fake_ollama.models["llama3.2-vision:11b"].digest
    assert "cpu_spill" in {w["code"] for w in result["warnings"]}
    assert data["server"]["version"] == "0.33.0-rc2"
    assert data["machine"]["cpu_count"] >= 1


def test_gate_failure_exits_5_and_is_recorded(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    data = bench(fake_ollama, "llama3.2", "--runs", "2", "--max-tokens", "8", "--prompt-tokens", "32",
                 "--fail-under", "decode_tps=100000", "-o", f"json:{out}", code=5)  # fmt: skip
    assert [g["passed"] for g in data["gates"]] == [False]
    assert json.loads(out.read_text())["gates"][0]["metric"] == "decode_tps"


def test_baseline_regression_exits_5(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    fake_ollama.add(FakeModel("reg:1b", decode_tps=500.0))
    bench(
        fake_ollama,
        "reg:1b",
        "--runs",
        "2",
        "--max-tokens",
        "20",
        "--prompt-tokens",
        "32",
        "-o",
        f"json:{base}",
    )
    fake_ollama.models["reg:1b"].decode_tps = 250.0
    bench(fake_ollama, "reg:1b", "--runs", "2", "--max-tokens", "20", "--prompt-tokens", "32",
          "--baseline", str(base), "--max-regression", "10%", code=5)  # fmt: skip
    compared = runner.invoke(app, ["bench", "compare", str(base), str(base)])
    assert compared.exit_code == 0, compared.output


def test_unknown_models_fail_before_the_first_request(fake_ollama: FakeOllama) -> None:
    result = runner.invoke(app, ["bench", "llama3.2", "nope:1b", "nada:2b", "--host", fake_ollama.url,
                                 "--runs", "1", "--max-tokens", "4", "--prompt-tokens", "16"])  # fmt: skip
    assert result.exit_code == 4, result.output
    assert "models not found: nope:1b, nada:2b" in result.output
    assert "llmbox pull nope:1b" in result.output
    assert not any(r["path"] in ("/api/chat", "/api/generate") for r in fake_ollama.requests)


def test_mid_stream_error_keeps_servers_message_and_goes_on(fake_ollama: FakeOllama) -> None:
    fake_ollama.inject(
        Fault(
            "/api/chat",
            "error_after",
            after=2,
            message="an error was encountered while running the model",
        )
    )
    data = bench(
        fake_ollama,
        "llama3.2",
        "--runs",
        "3",
        "--warmup",
        "0",
        "--max-tokens",
        "8",
        "--prompt",
        "hi",
        code=1,
    )
    errors = [r["error"] for r in data["results"][0]["runs"]]
    assert errors.count("an error was encountered while running the model") == 1
    assert errors.count(None) == 2


def test_server_vanishing_mid_benchmark_keeps_finished_cases(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    out = tmp_path / "partial.json"
    fake_ollama.add(FakeModel("vanish:1b"))
    chats = []

    def vanish_after_first_case(path: str) -> bool:
        chats.append(path)
        if path == "/api/chat" and chats.count("/api/chat") == 5:  # 2 probes + 2 runs, then gone
            threading.Thread(target=fake_ollama.stop).start()
            return True  # and this request's connection is cut
        return False

    fake_ollama.on_request = vanish_after_first_case
    url = fake_ollama.url
    try:
        result = runner.invoke(app, ["bench", "vanish:1b", "--host", url, "--runs", "2", "--warmup", "0",
                                     "--max-tokens", "4,8", "--prompt-tokens", "16", "-o", f"json:{out}"])  # fmt: skip
    finally:
        fake_ollama.on_request = None
        fake_ollama.start()
    assert result.exit_code == 3, result.output
    assert "Cannot reach Ollama" in result.output
    saved = json.loads(out.read_text())
    BenchReport.parse(saved)
    assert saved["interrupted"] is True
    assert [r["case"]["label"] for r in saved["results"]] == ["pp16 tg4"]


@pytest.mark.parametrize("fmt", ["table", "csv", "md", "jsonl"])
def test_every_format_prints(fake_ollama: FakeOllama, fmt: str) -> None:
    result = runner.invoke(app, ["bench", "llama3.2", "qwen3:4b", "--host", fake_ollama.url, "--runs", "2",
                                 "--max-tokens", "8", "--prompt-tokens", "16", "-f", fmt, "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "llama3.2" in result.stdout
    assert "qwen3:4b" in result.stdout


def test_concurrency_levels_report_aggregate_throughput(fake_ollama: FakeOllama) -> None:
    fake_ollama.num_parallel = 2
    data = bench(fake_ollama, "llama3.2", "--runs", "2", "--warmup", "0", "--max-tokens", "10",
                 "--prompt-tokens", "16", "--concurrency", "1,4")  # fmt: skip
    c4 = next(r for r in data["results"] if r["case"]["concurrency"] == 4)
    assert len(c4["runs"]) == 8
    assert c4["summary"]["aggregate_tps"]["mean"] > 0


def test_ctrl_c_exits_130_and_leaves_valid_json(
    fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.bench import runner as runner_mod

    out = tmp_path / "partial.json"
    real_one = runner_mod.Runner._one
    calls = {"n": 0}

    async def interrupt_in_second_case(self: Any, run: Any, state: Any) -> Any:
        if run.case.max_tokens == 8:
            raise KeyboardInterrupt
        calls["n"] += 1
        return await real_one(self, run, state)

    monkeypatch.setattr(runner_mod.Runner, "_one", interrupt_in_second_case)
    result = runner.invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url, "--runs", "2", "--warmup", "0",
                                 "--max-tokens", "4,8", "--prompt", "hi", "-o", f"json:{out}"])  # fmt: skip
    assert result.exit_code == 130, result.output
    assert f"results so far written to {out}" in result.output
    saved = json.loads(out.read_text())
    BenchReport.parse(saved)
    assert saved["interrupted"] is True
    assert [r["case"]["label"] for r in saved["results"]] == ["prompt tg4"]
    assert calls["n"] == 2
