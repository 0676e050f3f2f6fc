"""Open loop the way a hurried user drives it: huge or tiny rates, Ctrl-C mid-run, one overloaded
rate; and the scheduler's own precision."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import subprocess
import sys
import time
from time import perf_counter_ns

import pytest
from typer.testing import CliRunner

from llmbox.bench.load import wait_until
from llmbox.cli import app
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "1e9", "--duration", "1"], "would send 1,000,000,000 requests, more than"),
        (["--rate", "1e6"], "more than 100,000 per rate"),  # 30 s worth by default
        (["--rate", "5", "--requests", "200000"], "more than 100,000 per rate"),
        (["--rate", "0.0001", "--duration", "1"], "less than one"),
    ],
)
def test_rates_that_cannot_be_run_are_usage_errors(
    fake_ollama: FakeOllama, argv: list[str], message: str
) -> None:
    started = time.perf_counter()
    result = runner.invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url, *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Hint:" in result.stderr
    assert time.perf_counter() - started < 5  # refused up front, nothing planned or sent
    assert not any(r["path"] == "/api/chat" for r in fake_ollama.requests)


def test_an_overloaded_rate_says_the_server_fell_behind(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("slow", decode_tps=100.0))  # 10 tokens: ~0.1 s a request
    result = runner.invoke(app, ["bench", "slow", "--host", fake_ollama.url, "--rate", "50",
                                 "--requests", "8", "--max-tokens", "10", "--prompt", "hi",
                                 "--warmup", "0", "--no-save", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "req/s of the 50 asked — the server fell behind; requests queued up to" in result.stdout
    # one rate and no one-at-a-time run: nothing to call a knee
    assert "latency held up" not in result.stdout


def test_ctrl_c_mid_load_keeps_the_requests_that_finished(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("slow", decode_tps=50.0))  # 10 tokens: ~0.2 s, one slot
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbox", "bench", "slow", "--host", fake_ollama.url,
         "--rate", "20", "--requests", "60", "--max-tokens", "10", "--prompt", "hi",
         "--warmup", "0", "--no-save", "-f", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait for a few answers, then Ctrl-C
        if sum(r["path"] == "/api/chat" for r in fake_ollama.requests) >= 12:
            break
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    report = BenchReport.parse(json.loads(out))
    assert report.interrupted
    (result,) = report.results  # the case in progress, not lost
    assert 0 < len(result.runs) < 60
    assert result.warnings[0].code == "interrupted"
    assert f"{len(result.runs)} of 60 measured requests finished" in result.warnings[0].message
    # throughput from the completions' times (windows of the phase), not from 1/e2e
    assert sum(b.requests for b in result.batches) == len(result.runs)
    assert result.summary["requests_per_s"].mean < 10
    assert "Error: interrupted" in err


def test_the_scheduler_sends_on_time_not_a_timer_tick_late() -> None:
    """asyncio's timers wake up to ~1 ms late (epoll counts whole ms); the scheduler waits the
    last stretch in loop turns, so it is later than a plain ``asyncio.sleep`` to the same due
    times by less. The two take turns, so that a busy machine slows both alike (an absolute
    bound failed when the suite shared the machine)."""

    async def lateness() -> tuple[list[float], list[float]]:
        ours: list[float] = []
        plain: list[float] = []
        start = perf_counter_ns() + 5_000_000
        for i in range(80):
            due = start + i * 7_300_000  # 7.3 ms apart: never on a millisecond boundary
            if i % 2:
                await wait_until(due)
            else:
                await asyncio.sleep(max(0, due - perf_counter_ns()) / 1e9)
            (ours if i % 2 else plain).append((perf_counter_ns() - due) / 1e6)
        return ours, plain

    ours, plain = asyncio.run(lateness())
    assert min(ours) >= 0  # never early
    assert statistics.median(ours) < statistics.median(plain) - 0.1, (ours, plain)


def test_stopped_while_still_sending_no_request_finishes_after_the_partial_summary() -> None:
    # Ctrl-C during an open-loop case's sending phase: requests already sent used to go on, and
    # one finishing after the case was summarised made "5 of 60 finished" sit beside 6 runs.
    import asyncio

    from llmbox.bench.grid import GridOptions, cases_from_options, expand
    from llmbox.bench.runner import Runner, RunnerConfig
    from tests.bench.test_runner import ScriptedBackend, _infos, _report

    backend = ScriptedBackend()
    backend.delay_s = 0.05  # 50-150 ms per request, many in flight at 100 req/s
    grid = expand(["m"], cases_from_options(GridOptions(rates=[100.0], requests=200,
                                                        max_tokens=[4])))  # fmt: skip
    report = _report()
    infos = _infos(backend, grid)

    async def main() -> None:
        job = asyncio.ensure_future(
            Runner(backend, RunnerConfig(warmup=0)).run(grid, report, infos)
        )
        await asyncio.sleep(0.5)  # ~50 sent, some answered, the rest in flight
        job.cancel()
        try:
            await job
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.3)  # anything left running would finish now

    asyncio.run(main())
    (result,) = report.results
    assert 0 < len(result.runs) < 200
    assert f"{len(result.runs)} of 200 measured requests finished" in result.warnings[0].message
