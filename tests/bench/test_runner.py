"""The runner against a scripted in-memory backend (a mock executor, as hyperfine has)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from llmbox.backends.base import Capabilities, GenRequest
from llmbox.bench.grid import GridOptions, cases_from_options, expand
from llmbox.bench.runner import (
    CaseFinished,
    CaseStarted,
    Event,
    RunFinished,
    Runner,
    RunnerConfig,
    queue_wait,
)
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable
from llmbox.results import BenchReport, Case, ModelInfo, RunSample, Server


class ScriptedBackend:
    kind = "ollama"
    host = "mem://"
    capabilities = Capabilities(
        unload=True, ignore_eos=False, images=True, memory=True, server_timings=True
    )

    def __init__(self, *, fail_on: set[int] = frozenset(), vanish_on: int | None = None,
                 words_per_token: float = 1.0, overhead_tokens: int = 0) -> None:  # fmt: skip
        self.overhead_tokens = overhead_tokens
        self.requests: list[GenRequest] = []
        self.fail_on = fail_on
        self.vanish_on = vanish_on
        self.tokens_per_word = 1 / words_per_token
        self.unloads = 0
        self.loaded = False
        self.image_tokens = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay_s = 0.0

    async def server_info(self) -> Server:
        return Server(kind="ollama", host=self.host, version="1")

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
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s * (1 + n % 3))  # uneven replies
        self.in_flight -= 1
        prompt_tokens = (
            self.overhead_tokens
            + round(len(request.prompt.split()) * self.tokens_per_word)
            + self.image_tokens * len(request.images)
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
    return BenchReport(
        llmbox_version="0",
        backend="ollama",
        server=Server(kind="ollama", host="mem://"),
        started_at="now",
    )


def _infos(backend: ScriptedBackend, grid: list[tuple[str, Case]]) -> dict[str, ModelInfo]:
    async def go() -> dict[str, ModelInfo]:
        return {m: await backend.model_info(m) for m in dict.fromkeys(m for m, _ in grid)}

    return asyncio.run(go())


def _run(backend: ScriptedBackend, models: list[str], opts: GridOptions, config: RunnerConfig,
         events: list[Event] | None = None) -> BenchReport:  # fmt: skip
    grid = expand(models, cases_from_options(opts))
    sink = events.append if events is not None else (lambda e: None)
    return asyncio.run(Runner(backend, config, sink).run(grid, _report(), _infos(backend, grid)))


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
    assert result.summary["decode_tps"].mean == pytest.approx(100.0)
    assert result.summary["prefill_tps"].mean == pytest.approx(1000.0)
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
    assert report.results[0].summary["decode_tps"].n == 2
    assert "failed_runs" in {w.code for w in report.results[0].warnings}


def test_vanishing_server_keeps_finished_cases() -> None:
    backend = ScriptedBackend(vanish_on=4)  # 2 probes + 2 runs of the first case, then gone
    grid = expand(["m"], cases_from_options(GridOptions(max_tokens=[4, 8])))
    report = _report()
    runner = Runner(backend, RunnerConfig(runs=2, warmup=0))
    with pytest.raises(ServerUnreachable):
        asyncio.run(runner.run(grid, report, _infos(backend, grid)))
    assert report.interrupted
    assert [r.case.label for r in report.results] == ["pp512 tg4"]


def test_concurrency_sends_batches_and_reports_aggregate_throughput() -> None:
    events: list[Event] = []
    backend = ScriptedBackend()
    report = _run(
        backend,
        ["m"],
        GridOptions(max_tokens=[10], concurrency=[4], mode="batch"),
        RunnerConfig(runs=2, warmup=0),
        events,
    )
    result = report.results[0]
    assert len(result.runs) == 8
    assert [b.requests for b in result.batches] == [4, 4]
    assert {r.batch for r in result.runs} == {0, 1}
    assert "aggregate_tps" in result.summary
    measured = [e for e in events if isinstance(e, RunFinished) and not e.warmup]
    assert len(measured) == 8
    assert sum(isinstance(e, CaseFinished) for e in events) == 1
    assert "requests_per_s" in result.summary


def test_progress_counts_every_request_sent() -> None:
    events: list[Event] = []
    backend = ScriptedBackend()
    _run(backend, ["m"], GridOptions(max_tokens=[4], concurrency=[3]),
         RunnerConfig(runs=2, warmup=1), events)  # fmt: skip
    (started,) = [e for e in events if isinstance(e, CaseStarted)]
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert started.requests == len(backend.requests) == len(finished)
    assert finished[-1].done == started.requests


def test_a_finished_case_is_in_the_report_when_its_event_arrives() -> None:
    seen: list[int] = []

    def on_event(e: Event) -> None:
        if isinstance(e, CaseFinished):
            seen.append(len(e.report.results))
            assert e.report.results[-1] is e.result

    _run(ScriptedBackend(), ["m"], GridOptions(max_tokens=[4, 8]),
         RunnerConfig(runs=1, warmup=0), [])  # fmt: skip
    backend = ScriptedBackend()
    grid = expand(["m"], cases_from_options(GridOptions(max_tokens=[4, 8])))
    runner = Runner(backend, RunnerConfig(runs=1, warmup=0), on_event)
    asyncio.run(runner.run(grid, _report(), _infos(backend, grid)))
    assert seen == [1, 2]


def test_interleave_runs_models_in_rounds() -> None:
    backend = ScriptedBackend()
    cfg = RunnerConfig(runs=3, warmup=0, order="interleave")
    grid = [
        (m, c)
        for m in ("a", "b")
        for c in cases_from_options(GridOptions(prompt="hi", max_tokens=[4]))
    ]
    report = asyncio.run(Runner(backend, cfg).run(grid, _report(), _infos(backend, grid)))
    assert [r.model for r in backend.requests] == ["a", "b", "a", "b", "a", "b"]
    assert [r.model for r in report.results] == ["a", "b"]
    assert [len(r.runs) for r in report.results] == [3, 3]


def test_each_invocation_sends_prompts_no_earlier_one_sent() -> None:
    prompts = []
    for nonce in ("aaaaaa", "bbbbbb"):
        backend = ScriptedBackend()
        _run(backend, ["m"], GridOptions(prompt_tokens=[32], max_tokens=[4]),
             RunnerConfig(runs=3, warmup=1, seed=42, nonce=nonce))  # fmt: skip
        prompts.append({r.prompt for r in backend.requests})
    assert not prompts[0] & prompts[1]
    again = ScriptedBackend()
    _run(again, ["m"], GridOptions(prompt_tokens=[32], max_tokens=[4]),
         RunnerConfig(runs=3, warmup=1, seed=42, nonce="aaaaaa"))  # fmt: skip
    assert {r.prompt for r in again.requests} == prompts[0]  # the nonce, not chance, decides


def test_image_tokens_are_counted_apart_from_the_text_calibration(tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    backend = ScriptedBackend(overhead_tokens=10)
    backend.image_tokens = 300
    opts = GridOptions(prompt_tokens=[64], max_tokens=[4], images=(str(image),))
    text_then = cases_from_options(opts) + cases_from_options(
        GridOptions(prompt_tokens=[64], max_tokens=[4])
    )
    grid = expand(["m"], text_then)
    cfg = RunnerConfig(runs=2, warmup=2)
    report = asyncio.run(Runner(backend, cfg).run(grid, _report(), _infos(backend, grid)))
    with_image, text_only = report.results
    assert with_image.image_tokens == pytest.approx(300, abs=3)
    text_sizes = [r.prompt_eval_count - 300 for r in with_image.runs]
    assert all(abs(s - 64) <= 6 for s in text_sizes), text_sizes  # text still ~64 tokens
    assert all(abs(r.prompt_eval_count - 64) <= 6 for r in text_only.runs)


def test_queue_wait_is_ttft_beyond_the_servers_own_work() -> None:
    sample = RunSample(ttft_s=1.0, load_duration_ns=0, prompt_eval_duration_ns=200_000_000,
                       eval_count=11, eval_duration_ns=110_000_000)  # fmt: skip
    assert queue_wait(sample) == pytest.approx(0.79)
    assert queue_wait(RunSample(ttft_s=0.1, counts_source="usage")) is None


def test_cold_runs_unload_before_each_request() -> None:
    backend = ScriptedBackend()
    _run(backend, ["m"], GridOptions(max_tokens=[4], cold=True), RunnerConfig(runs=2, warmup=1))
    assert backend.unloads == 3


def test_continuous_concurrency_keeps_c_requests_in_flight() -> None:
    backend = ScriptedBackend()
    backend.delay_s = 0.01
    report = _run(backend, ["m"], GridOptions(prompt="hi", max_tokens=[4], concurrency=[3]),
                  RunnerConfig(runs=4, warmup=0))  # fmt: skip
    result = report.results[0]
    assert len(result.runs) == 12
    assert backend.most_in_flight == 3
    assert sorted(r.batch for r in result.runs) == list(range(12))  # each request numbered
    assert sum(b.requests for b in result.batches) == 12  # windows cover every completion
    assert "requests_per_s" in result.summary


def test_open_loop_sends_on_schedule_and_counts_from_it() -> None:
    backend = ScriptedBackend()
    backend.delay_s = 0.02
    opts = GridOptions(prompt="hi", max_tokens=[4], rates=[50.0], requests=20, max_concurrency=1,
                       arrivals="constant")  # fmt: skip
    report = _run(backend, ["m"], opts, RunnerConfig(runs=2, warmup=0))
    result = report.results[0]
    assert result.case.label == "prompt tg4 @50/s constant max1"
    assert len(result.runs) == 20
    assert backend.most_in_flight == 1
    delays = [r.sched_delay_s or 0.0 for r in result.runs]
    # one slot and replies of 20-60 ms against a request due every 20 ms: the queue grows and
    # the wait counts, from each request's scheduled arrival
    assert delays[-1] > 0.2
    assert all(
        r.ttft_s is not None and r.ttft_s >= d for r, d in zip(result.runs, delays, strict=True)
    )
    assert result.summary["sched_delay_s"].max == pytest.approx(max(delays))


def test_arrivals_are_a_real_process_not_repeated_gaps() -> None:
    import random
    import statistics

    from llmbox.bench.load import parse_arrivals, schedule

    rng = random.Random(1)
    times = schedule(parse_arrivals("poisson"), 4.0, 4000, rng)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert len(set(gaps)) == len(gaps)  # no gap repeats
    assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.25, rel=0.08)  # exponential: sd = mean
    # Kolmogorov–Smirnov against Exp(4): the largest CDF gap stays under the 1 % critical value
    ordered = sorted(gaps)
    n = len(ordered)
    d = max(max(abs((i + 1) / n - (1 - math.exp(-4 * g))), abs(i / n - (1 - math.exp(-4 * g))))
            for i, g in enumerate(ordered))  # fmt: skip
    assert d < 1.63 / math.sqrt(n)
    bursty = schedule(parse_arrivals("gamma:0.25"), 4.0, 4000, random.Random(2))
    bgaps = [b - a for a, b in zip([0.0, *bursty], bursty, strict=False)]
    assert statistics.mean(bgaps) == pytest.approx(0.25, rel=0.1)
    assert statistics.stdev(bgaps) / statistics.mean(bgaps) == pytest.approx(2.0, rel=0.15)
    steady = schedule(parse_arrivals("constant"), 4.0, 10, random.Random(3))
    assert steady == pytest.approx([0.25 * (i + 1) for i in range(10)])


def test_load_windows_report_the_rate_that_was_delivered() -> None:
    # 4 completions over 2.4 s, bunched so that one of the 3 windows is empty: the windows'
    # mean rate must be 4 / 2.4 s, and goodput's wall time the whole 2.4 s.
    from llmbox.bench.metrics import summarize
    from llmbox.bench.runner import windows

    t0 = 1_000_000_000
    at = [0.3, 0.7, 2.2, 2.4]
    done = [(t0 + round(s * 1e9), RunSample(eval_count=8, e2e_s=0.3, ttft_s=0.1)) for s in at]
    batches = windows(done, t0, 3)
    assert sum(b.wall_s for b in batches) == pytest.approx(2.4)
    summary = summarize([s for _, s in done], batches, slo={"e2e_s": 1.0})
    assert summary["requests_per_s"].mean == pytest.approx(4 / 2.4)
    assert summary["aggregate_tps"].mean == pytest.approx(32 / 2.4)
    assert summary["goodput"].mean == pytest.approx(4 / 2.4)
