"""Accuracy: llmbox's reported prefill/decode tok/s and TTFT against a server's ground truth.

    python benchmarks/accuracy.py [--quick] [--json]

The paced server (another process) evaluates prompts at a configured prefill rate and emits
tokens at a configured decode rate, really sleeping those times, and reports durations computed
from those rates; it records when it received each request and wrote its first token on the
machine-wide monotonic clock (``perf_counter_ns`` is CLOCK_MONOTONIC on Linux), so its own
time to first token is the truth for llmbox's TTFT. llmbox runs a ``pp512 tg32`` case through
``Runner`` as ``llmbox bench`` does, with the server's prompt cache off and then on (the server
counts cached tokens in ``prompt_eval_count`` but spends ``prompt_eval_duration`` on the others
only, as Ollama does; llmbox's per-request markers keep the cache from matching past the chat
template). A control repeats one prompt without markers to show what the cache would do.
"""

from __future__ import annotations

import asyncio

from _common import Figure, log, main, median, server, truths

from llmbox.backends.base import GenRequest
from llmbox.backends.ollama import OllamaBackend
from llmbox.bench.metrics import decode_tps, prefill_tps
from llmbox.bench.runner import Runner, RunnerConfig
from llmbox.bench.session import new_report
from llmbox.client import OllamaClient
from llmbox.results import Case, Options

PREFILL_TPS = 2000.0
DECODE_TPS = 200.0
RATE_BUDGET_PCT = 1.0
TTFT_BUDGET_MS = 2.0


async def run_case(base: str, runs: int) -> tuple[list[tuple[float, float, float]], float]:
    """Per measured run: (prefill error %, decode error %, TTFT error ms); and cached share."""
    backend = OllamaBackend(OllamaClient(host=base))
    report = await new_report(backend, Options())
    truths(base)
    case = Case(label="pp512 tg32", prompt_tokens=512, max_tokens=32)
    await Runner(backend, RunnerConfig(runs=runs, warmup=1)).run(
        [("bench", case)], report, {"bench": await backend.model_info("bench")}
    )
    await backend.aclose()
    samples = report.results[0].runs
    truth = truths(base)[-len(samples) :]
    out = []
    for sample, t in zip(samples, truth, strict=True):
        assert sample.ok, sample.error
        pre, dec = prefill_tps(sample), decode_tps(sample)
        assert pre is not None
        assert dec is not None
        assert sample.ttft_s is not None
        server_ttft = (t["t_first_ns"] - t["t_recv_ns"]) / 1e9
        out.append(
            (
                (pre / t["prefill_tps"] - 1) * 100,
                (dec / t["decode_tps"] - 1) * 100,
                (sample.ttft_s - server_ttft) * 1000,
            )
        )
    cached = sum(t["cached_tokens"] for t in truth) / sum(t["prompt_tokens"] for t in truth)
    return out, cached


async def control(base: str) -> float:
    """Prefill error % when one prompt is sent twice with no marker (what the marker prevents)."""
    backend = OllamaBackend(OllamaClient(host=base))
    request = GenRequest(model="bench", prompt=" ".join(["word"] * 500), max_tokens=4)
    await backend.generate(request)
    sample = await backend.generate(request)
    await backend.aclose()
    rate = prefill_tps(sample)
    assert rate is not None
    return (rate / PREFILL_TPS - 1) * 100


def measure(quick: bool) -> list[Figure]:
    runs = 2 if quick else 10
    rates = ("--prefill-tps", str(PREFILL_TPS), "--decode-tps", str(DECODE_TPS))
    s = "Accuracy"
    figures = []
    for cache in (False, True):
        with server("paced", *rates, *(["--cache"] if cache else [])) as base:
            rows, cached = asyncio.run(run_case(base, runs))
            ctl = asyncio.run(control(base)) if cache else None
        tag = "cache on" if cache else "cache off"
        log(f"accuracy: {tag}: {len(rows)} runs, cached share {cached:.2%}")
        pre = max(abs(r[0]) for r in rows)
        dec = max(abs(r[1]) for r in rows)
        ttft = max(abs(r[2]) for r in rows)
        note = f"worst of {len(rows)} runs of pp512 tg32"
        figures += [
            Figure(
                s,
                f"{tag}: prefill tok/s error",
                pre,
                "%",
                f"≤ {RATE_BUDGET_PCT:g} %",
                pre <= RATE_BUDGET_PCT,
                note + (f"; {cached:.1%} of prompt tokens served from cache" if cache else ""),
            ),
            Figure(
                s,
                f"{tag}: decode tok/s error",
                dec,
                "%",
                f"≤ {RATE_BUDGET_PCT:g} %",
                dec <= RATE_BUDGET_PCT,
                note,
            ),
            Figure(
                s,
                f"{tag}: TTFT error vs server's first write",
                ttft,
                "ms",
                f"≤ {TTFT_BUDGET_MS:g} ms",
                ttft <= TTFT_BUDGET_MS,
                note + f"; median {median([r[2] for r in rows]):+.2f} ms",
            ),
        ]
        if ctl is not None:
            figures.append(
                Figure(
                    s,
                    "control: same prompt twice, no marker: prefill tok/s error",
                    ctl,
                    "%",
                    note="what the per-request marker prevents",
                )
            )
    return figures


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
