"""Open-loop load, multi-turn chats and the quality suite against the real llama.cpp server.

llama.cpp's own server (xllamacpp) serves SmolLM2-135M over OpenAI-style HTTP on a loopback
port with ONE slot, so requests that arrive while it is busy wait in its queue. Every number
llmbox reports is checked against the server's ground truth: the ``timings`` it sends with each
answer (prompt_n, cache_n, prompt_ms, predicted_n, predicted_ms) and its ``/metrics`` counters.
Token counts are tiny so the whole file stays in a few seconds of model time.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmbox.bench.datasets import load_dataset
from llmbox.bench.scoring import score
from llmbox.cli import app
from llmbox.report.exporters import render
from llmbox.results import BenchReport, RunSample
from tests._real_engine import llama_server, require_engine

require_engine()

runner = CliRunner()
SUITE_DATA = Path(__file__).parents[2] / "configs" / "suites" / "data"
SLOT_CTX = 1024  # per slot: the quality suite's needle cases (2k+ of context) cannot fit


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # One slot: a second request waits for the first. One thread: on a shared 2-core machine
    # two llama.cpp threads wait on each other at every barrier whenever another process holds
    # a core (tens of times slower, measured).
    with llama_server(slots=1, n_ctx=SLOT_CTX, threads=1, metrics=True) as host:
        yield host


def bench(host: str, *argv: str, code: int = 0) -> BenchReport:
    result = runner.invoke(
        app,
        ["bench", "smollm2", "--backend", "openai", "--host", host, "--no-save", "-f", "json",
         "-q", *argv],
    )  # fmt: skip
    assert result.exit_code == code, result.output
    return BenchReport.parse(json.loads(result.stdout))


def metrics(host: str) -> dict[str, float]:
    """llama.cpp's Prometheus counters (``llamacpp:NAME VALUE``)."""
    text = httpx.get(f"{host}/metrics", timeout=10, trust_env=False).text
    found = re.findall(r"^llamacpp:(\w+) ([0-9.eE+-]+)$", text, flags=re.MULTILINE)
    return {name: float(value) for name, value in found}


def server_s(run: RunSample) -> float:
    """The server's own processing time of a request: prefill + decode (its ``timings``)."""
    return (run.prompt_eval_duration_ns + run.eval_duration_ns) / 1e9


def test_open_loop_overload_queue_wait_matches_the_servers_timings(server: str) -> None:
    """20 req/s against one slot that serves ~5/s: the queue grows request by request, and
    the wait llmbox reports is what a FIFO queue of the server's own service times implies."""
    rate, n = 20.0, 6
    before = metrics(server)
    report = bench(server, "--rate", str(rate), "--arrivals", "constant", "--requests", str(n),
                   "--prompt", "Name a colour.", "--max-tokens", "4", "--ignore-eos",
                   "--warmup", "0")  # fmt: skip
    after = metrics(server)
    (result,) = report.results
    runs = result.runs
    assert [r.batch for r in runs] == list(range(n))  # in order of scheduled arrival
    for r in runs:
        assert r.ok
        assert r.counts_source == "server"
        assert r.eval_count == 4
        assert r.sched_delay_s is not None
        assert 0 <= r.sched_delay_s < 0.05
    # Every token the server counted is in the report (a literal prompt: no calibration probes).
    assert after["tokens_predicted_total"] - before["tokens_predicted_total"] == 4 * n
    evaluated = sum(r.prompt_eval_count - (r.cached_prompt_tokens or 0) for r in runs)
    assert after["prompt_tokens_total"] - before["prompt_tokens_total"] == evaluated

    # Ground truth: one slot serves in arrival order. Request i arrives at (i+1)/rate and
    # starts when request i-1 is done; it then takes the server's own prefill + decode time.
    free_at, expected = 0.0, []
    for i, r in enumerate(runs):
        arrival = (i + 1) / rate
        wait = max(0.0, free_at - arrival)
        expected.append(wait)
        free_at = arrival + wait + server_s(r)
    waits = [r.queue_s for r in runs]
    assert all(w is not None for w in waits)
    # The queue really built up: each request waited longer than the one before it.
    assert expected[-1] > 0.2
    assert all(b is not None and a is not None and b > a for a, b in itertools.pairwise(waits))
    for got, want, r in zip(waits, expected, runs, strict=True):
        assert got is not None
        # The server's per-request overhead (HTTP, tokenising, slot hand-over) is not in its
        # timings and accumulates along the queue: a few ms per request ahead.
        assert abs(got - want) <= 0.05 + 0.1 * want, (waits, expected)
        # Latencies count from the scheduled arrival, so the wait is inside TTFT and e2e:
        assert r.ttft_s is not None
        assert r.e2e_s is not None
        assert r.ttft_s >= got + r.prompt_eval_duration_ns / 1e9
        assert abs((r.e2e_s - server_s(r)) - got) <= 0.05 + 0.1 * want
    assert result.summary["queue_s"].max == pytest.approx(max(w or 0.0 for w in waits))
    assert "of the 20 asked — the server fell behind" in render("table", report)


def test_turns_report_the_prompt_cache_as_the_server_counts_it(server: str) -> None:
    before = metrics(server)
    report = bench(server, "--turns", "3", "--runs", "1", "--prompt", "Say one word.",
                   "--max-tokens", "6", "--ignore-eos", "--warmup", "0")  # fmt: skip
    after = metrics(server)
    by_shared = {r.case.shared_prefix: r for r in report.results}
    shared, fresh = by_shared[True], by_shared[False]
    assert [r.turn for r in shared.runs] == [1, 2, 3] == [r.turn for r in fresh.runs]
    everything = shared.runs + fresh.runs
    # The server's counters agree with what llmbox recorded per request, cached tokens included.
    cached_total = after["prompt_tokens_cached_total"] - before["prompt_tokens_cached_total"]
    assert cached_total == sum(r.cached_prompt_tokens or 0 for r in everything)
    evaluated = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    assert evaluated == sum(r.prompt_eval_count - (r.cached_prompt_tokens or 0) for r in everything)
    for earlier, later, other in zip(shared.runs, shared.runs[1:], fresh.runs[1:], strict=False):
        # Resending the conversation: the server reuses the earlier turn's whole prompt, and of
        # its answer as much as re-tokenizes to the tokens it generated (the answer goes back as
        # text: 89 of 94 shared tokens reused, one into the answer, in one run), never more.
        assert later.shared_prefix_tokens is not None
        assert later.cached_prompt_tokens is not None
        assert earlier.prompt_eval_count - 2 <= later.cached_prompt_tokens
        assert later.cached_prompt_tokens <= later.shared_prefix_tokens
        # Nothing shared: only the chat template's head is reused, the rest is evaluated.
        new_shared = later.prompt_eval_count - later.cached_prompt_tokens
        new_fresh = other.prompt_eval_count - (other.cached_prompt_tokens or 0)
        assert new_shared < new_fresh
    # ... and llmbox says so under the table, with the server as the source.
    line = next(x for x in render("table", report).splitlines() if "prompt cache" in x)
    reused = sum(r.cached_prompt_tokens or 0 for r in shared.runs[1:]) / 2
    assert f"{reused:,.0f} of " in line
    assert "reported by the server" in line


def test_quality_suite_runs_and_scores_on_the_real_model(server: str) -> None:
    """Two tasks of each kind (the model is tiny: its pass rate is low, and that is fine);
    what is tested is that every answer is kept and scored by the strict scorer, and that
    needle cases beyond the server's context are skipped, not failed."""
    result = runner.invoke(
        app,
        ["bench", "smollm2", "--backend", "openai", "--host", server, "--no-save",
         "--suite", "quality", "--runs", "2", "--warmup", "0", "-f", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = BenchReport.parse(json.loads(result.stdout))
    labels = [r.case.label for r in report.results]
    assert labels == ["arithmetic", "facts", "json"]
    for needle in ("needle 1k", "needle 4k", "needle 16k", "needle 32k"):
        assert f"skipped {needle}" in result.stderr
    assert f"{SLOT_CTX:,}" in result.stderr  # the server's context, not the model's 8k
    for r in report.results:
        assert len(r.runs) == 2
        for run in r.runs:
            assert run.ok
            assert run.task is not None
            assert run.answer is not None
            assert run.passed is not None
            assert run.verdict is not None or run.passed
        assert "pass_rate" in r.summary
    # The verdicts are the scorer's on the answers the model gave (re-scored here).
    items = {i.id: i for name in ("arithmetic", "facts", "json")
             for i in load_dataset(str(SUITE_DATA / f"{name}.jsonl"))}  # fmt: skip
    for run in (s for r in report.results for s in r.runs):
        expect = items[run.task or ""].expect
        assert expect is not None
        assert score(expect, run.answer or "") == (run.passed, run.verdict)
    assert re.search(r"smollm2 \(Q4_1\) passed \d+% of 6 checks", render("table", report))
