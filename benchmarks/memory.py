"""Memory: peak RSS of a 10,000-request benchmark held in a report and exported.

    python benchmarks/memory.py [--quick] [--json]

A report holds one ``RunSample`` per request, as ``llmbox bench`` does for every request of every
case; it is then rendered as JSON and CSV (the exporters build the whole text in memory) and the
report is summarised as the runner does. The figure is the growth of peak RSS over a baseline
taken after the same work on 100 requests, divided by the extra requests.
"""

from __future__ import annotations

import resource

from _common import Figure, log, main

from llmbox.bench.metrics import summarize
from llmbox.machine import describe
from llmbox.report.exporters import render
from llmbox.results import BatchStats, BenchReport, Case, CaseResult, ModelInfo, RunSample, Server

BUDGET_BYTES = 4096
REQUESTS_PER_CASE = 100


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def build(requests: int) -> BenchReport:
    report = BenchReport(
        llmbox_version="bench",
        backend="ollama",
        server=Server(kind="ollama", host="http://127.0.0.1:11434", version="0.0.0"),
        machine=describe(),
        started_at="2025-01-01T00:00:00Z",
    )
    for c in range(max(1, requests // REQUESTS_PER_CASE)):
        case = Case(label=f"pp512 tg128 #{c}", prompt_tokens=512, max_tokens=128)
        result = CaseResult(model="bench:latest", case=case, model_info=ModelInfo(name="bench"))
        for i in range(REQUESTS_PER_CASE):
            result.runs.append(
                RunSample(
                    prompt_eval_count=512 + i,
                    prompt_eval_duration_ns=250_000_000 + i,
                    eval_count=128,
                    eval_duration_ns=1_000_000_000 + 7 * i,
                    load_duration_ns=1_000_000 + i,
                    total_duration_ns=1_300_000_000 + i,
                    ttft_s=0.25 + i / 1e6,
                    ttft_answer_s=0.25 + i / 1e6,
                    e2e_s=1.3 + i / 1e6,
                    itl_mean_s=0.0078 + i / 1e9,
                    itl_max_s=0.012 + i / 1e9,
                    done_reason="length",
                    started_at=f"2025-01-01T00:{i % 60:02d}:00Z",
                )
            )
        result.batches.append(BatchStats.of(0, REQUESTS_PER_CASE, 0, 1.3, 128 * REQUESTS_PER_CASE))
        result.summary = summarize(result.runs, result.batches)
        report.results.append(result)
    return report


def exercise(requests: int) -> int:
    """Build, hold and export; returns the bytes of text produced (kept alive meanwhile)."""
    report = build(requests)
    texts = [render(fmt, report) for fmt in ("json", "csv")]
    return sum(len(t) for t in texts)


def measure(quick: bool) -> list[Figure]:
    requests = 1_000 if quick else 10_000
    exercise(REQUESTS_PER_CASE)
    base = peak_rss()
    size = exercise(requests)
    grown = peak_rss() - base
    per = grown / (requests - REQUESTS_PER_CASE)
    log(f"memory: {requests:,} requests, {size / 1e6:.1f} MB exported, peak RSS +{grown >> 10} KiB")
    return [
        Figure(
            "Memory",
            f"peak RSS per request held and exported ({requests:,} requests)",
            per,
            "bytes",
            f"< {BUDGET_BYTES:,} bytes",
            per < BUDGET_BYTES,
            f"peak RSS +{grown / 2**20:.1f} MiB over a 100-request baseline; JSON + CSV rendered",
        )
    ]


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
