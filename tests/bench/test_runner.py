"""The runner against a scripted in-memory backend (a mock executor, as hyperfine has)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmbox.backends.base import GenRequest
from llmbox.bench.grid import GridOptions, cases_from_options, expand
from llmbox.bench.runner import CaseFinished, Event, RunFinished, Runner, RunnerConfig
from llmbox.bench.types import BenchReport, ModelInfo, RunSample
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable


class ScriptedBackend:
    kind = "scripted"
    host = "mem://"

    def __init__(self, *, fail_on: set[int] = frozenset(), vanish_on: int | None = None,
                 words_per_token: float = 1.0, overhead_tokens: int = 0) -> None:  # fmt: skip
        self.overhead_tokens = overhead_tokens
        self.requests: list[GenRequest] = []
        self.fail_on = fail_on
        self.vanish_on = vanish_on
        self.tokens_per_word = 1 / words_per_token
        self.unloads = 0
        self.loaded = False

    async def server_info(self) -> dict[str, Any]:
        return {"host": self.host, "version": "1"}

    async def model_info(self, model: str) -> ModelInfo:
        if model == "missing":
            raise ModelNotFound(model)
        return ModelInfo(name=model, digest="d" * 64, quantization="Q4_0", size=1000)

    async def memory(self, model: str) -> ModelInfo | None:
        if not self.loaded:
            return None
        return ModelInfo(name=model, size=1000, size_vram=930, processor="7%/93% CPU/GPU")

    async def unload(self, model: str) -> None:
        self.unloads += 1
        self.loaded = False

    async def generate(self, request: GenRequest) -> RunSample:
        n = len(self.requests)
        self.requests.append(request)
        self.loaded = True
        if n == self.vanish_on:
            raise ServerUnreachable(self.host)
        if n in self.fail_on:
            raise ServerError("model runner crashed", status=500)
        await asyncio.sleep(0)
        prompt_tokens = self.overhead_tokens + round(
            len(request.prompt.split()) * self.tokens_per_word
        )
        return RunSample(
            prompt_eval_count=prompt_tokens,
            prompt_eval_duration_ns=prompt_tokens * 1_000_000,  # 1000 tok/s
            eval_count=request.max_tokens,
            eval_duration_ns=request.max_tokens * 10_000_000,  # 100 tok/s
            load_duration_ns=5_000_000,
            ttft_s=0.01,
            e2e_s=0.5,
        )

    async def aclose(self) -> None:
        pass


def _report() -> BenchReport:
    return BenchReport("0", "scripted", {}, {}, "now", {})


def _run(backend: ScriptedBackend, models: list[str], opts: GridOptions, config: RunnerConfig,
         events: list[Event] | None = None) -> BenchReport:  # fmt: skip
    grid = expand(models, cases_from_options(opts))
    sink = events.append if events is not None else (lambda e: None)
    return asyncio.run(Runner(backend, config, sink).run(grid, _report()))


def test_warmup_is_excluded_and_every_prompt_starts_differently() -> None:
    backend = ScriptedBackend()
    report = _run(
        backend,
        ["m"],
        GridOptions(prompt_tokens=[64], max_tokens=[8]),
        RunnerConfig(runs=3, warmup=2),
    )
    (result,) = report.results
    assert len(backend.requests) == 2 + 5  # two calibration probes, 2 warm-up, 3 runs
    assert len(result.runs) == 3
    first_words = [r.prompt.split()[0] for r in backend.requests]
    assert len(set(first_words)) == 7  # no shared prefix between any two requests
    assert result.summary["decode_tps"]["mean"] == pytest.approx(100.0)
    assert result.summary["prefill_tps"]["mean"] == pytest.approx(1000.0)
    assert result.model_info.processor == "7%/93% CPU/GPU"
    assert "cpu_spill" in {w.code for w in result.warnings}


@pytest.mark.parametrize("target", [48, 400])
def test_synthetic_prompt_is_calibrated_from_prompt_eval_count(target: int) -> None:
    # 2 tokens per word plus a fixed 20-token template: a ratio alone would overshoot small targets
    backend = ScriptedBackend(words_per_token=0.5, overhead_tokens=20)
    report = _run(
        backend, ["m"], GridOptions(prompt_tokens=[target]), RunnerConfig(runs=2, warmup=1)
    )
    sizes = [r.prompt_eval_count for r in report.results[0].runs]
    assert all(abs(s - target) / target < 0.1 for s in sizes), sizes


def test_failed_run_is_kept_and_benchmark_goes_on() -> None:
    backend = ScriptedBackend(fail_on={4})  # after 2 probes and 1 warm-up: the second run
    report = _run(backend, ["m"], GridOptions(max_tokens=[4]), RunnerConfig(runs=3, warmup=1))
    runs = report.results[0].runs
    assert [r.error for r in runs] == [None, "model runner crashed", None]
    assert runs[1].status == 500
    assert report.results[0].summary["decode_tps"]["n"] == 2
    assert "failed_runs" in {w.code for w in report.results[0].warnings}


def test_missing_model_is_recorded_and_others_still_run() -> None:
    backend = ScriptedBackend()
    report = _run(
        backend, ["missing", "m"], GridOptions(max_tokens=[4]), RunnerConfig(runs=2, warmup=0)
    )
    assert report.results[0].model_missing
    assert not report.results[1].model_missing
    assert len(report.results[1].runs) == 2


def test_vanishing_server_keeps_finished_cases() -> None:
    backend = ScriptedBackend(vanish_on=4)  # 2 probes + 2 runs of the first case, then gone
    grid = expand(["m"], cases_from_options(GridOptions(max_tokens=[4, 8])))
    report = _report()
    with pytest.raises(ServerUnreachable):
        asyncio.run(Runner(backend, RunnerConfig(runs=2, warmup=0)).run(grid, report))
    assert report.interrupted
    assert [r.case.label for r in report.results] == ["pp512 tg4"]


def test_concurrency_sends_batches_and_reports_aggregate_throughput() -> None:
    events: list[Event] = []
    backend = ScriptedBackend()
    report = _run(
        backend,
        ["m"],
        GridOptions(max_tokens=[10], concurrency=[4]),
        RunnerConfig(runs=2, warmup=0),
        events,
    )
    result = report.results[0]
    assert len(result.runs) == 8
    assert [b.requests for b in result.batches] == [4, 4]
    assert {r.batch for r in result.runs} == {0, 1}
    assert "aggregate_tps" in result.summary
    assert sum(isinstance(e, RunFinished) for e in events) == 8
    assert sum(isinstance(e, CaseFinished) for e in events) == 1


def test_cold_runs_unload_before_each_request() -> None:
    backend = ScriptedBackend()
    _run(backend, ["m"], GridOptions(max_tokens=[4], cold=True), RunnerConfig(runs=2, warmup=1))
    assert backend.unloads == 3
