"""The closed set of benchmark warnings. Each has a stable code, a message and advice."""

from __future__ import annotations

from collections.abc import Sequence

from llmbox.bench.metrics import decode_tps, modified_z_scores, percentile
from llmbox.defaults import CACHED_SHARE_LIMIT, OUTLIER_MIN_REL, OUTLIER_Z
from llmbox.results import BenchWarning, Case, CaseResult, RunSample

#: code -> advice. Codes are part of the JSON schema; add, never rename.
ADVICE = {
    "short_reply": "decode rates over short replies are noisy; ask for a longer answer or lower "
    "--max-tokens",
    "cpu_spill": "part of the model runs on the CPU: use a smaller quantization or --num-ctx, or a "
    "machine with more GPU memory",
    "slow_first_run": "the first measured run was much slower than the rest: add warm-up runs "
    "(--warmup 2)",
    "outliers": "close other programs, or add runs (--runs) so outliers weigh less",
    "timing_mismatch": "client and server timings disagree; check for a proxy or a busy client",
    "cached_prompt": "runs served mostly from the server's prompt cache are left out of "
    "prefill statistics; rerun (each llmbox bench sends new prompts) or restart the server",
    "failed_runs": "see each run's error; the statistics use the successful runs only",
    "queued": "requests waited for a free slot; raise OLLAMA_NUM_PARALLEL or lower --concurrency",
    "chunk_counts": "the server reported no token counts; counts are stream chunks, an estimate",
    "interrupted": "the case was stopped part-way (Ctrl-C or SIGTERM): its statistics cover only "
    "the requests that had finished; rerun it whole before comparing",
}

SLOW_FIRST_FACTOR = 1.5
MISMATCH_FRACTION = 0.25
MISMATCH_MIN_S = 0.05
#: A request counts as queued when it waited this long and this share of its TTFT.
QUEUE_MIN_S = 0.05
QUEUE_SHARE = 0.25


def _w(code: str, message: str) -> BenchWarning:
    return BenchWarning(code=code, message=message, advice=ADVICE[code])


def interrupted_warning(finished: int, planned: int) -> BenchWarning:
    """For a case stopped part-way: how much of it finished."""
    return _w("interrupted", f"interrupted: {finished} of {planned} measured requests finished")


def check(result: CaseResult) -> list[BenchWarning]:
    """All warnings for one case result (pure)."""
    case, runs = result.case, result.runs
    ok = [r for r in runs if r.ok]
    found: list[BenchWarning] = []
    if failed := len(runs) - len(ok):
        found.append(_w("failed_runs", f"{failed} of {len(runs)} runs failed"))
    found += _short_replies(case, ok)
    info = result.model_info
    if info.size_vram is not None and info.size and info.size_vram < info.size:
        found.append(
            _w(
                "cpu_spill",
                f"{result.model} is split {info.processor or 'CPU/GPU'} (size_vram < size)",
            )
        )
    found += _stability(ok)
    found += _mismatch(ok)
    # A chat template's shared system prompt is always cached; warn only when the cache
    # covered most of a prompt (the per-case table shows the count regardless).
    shares = [
        r.cached_prompt_tokens / r.prompt_eval_count
        for r in ok
        if r.cached_prompt_tokens and r.prompt_eval_count
    ]
    if excluded := sum(1 for s in shares if s > CACHED_SHARE_LIMIT):
        found.append(
            _w(
                "cached_prompt",
                f"{excluded} of {len(ok)} runs had more than {CACHED_SHARE_LIMIT:.0%} of the "
                f"prompt served from cache (up to {max(shares):.0%})",
            )
        )
    if case.concurrency > 1:
        queued = [r.queue_s for r in ok if _queued(r)]
        if queued:
            found.append(
                _w(
                    "queued",
                    f"{len(queued)} of {len(ok)} requests waited for a free slot "
                    f"(up to {max(q or 0.0 for q in queued):.2f} s)",
                )
            )
        if busy := [r for r in runs if r.status == 503]:
            found.append(
                _w("queued", f"{len(busy)} requests were refused with HTTP 503 (queue full)")
            )
    if any(r.counts_source == "chunks" for r in ok):
        found.append(_w("chunk_counts", "token counts were estimated from stream chunks"))
    return found


def _queued(r: RunSample) -> bool:
    q = r.queue_s
    return q is not None and q > QUEUE_MIN_S and r.ttft_s is not None and q > QUEUE_SHARE * r.ttft_s


def _short_replies(case: Case, ok: Sequence[RunSample]) -> list[BenchWarning]:
    if case.output_dist or case.dataset:  # lengths vary by design: trust the server's reason
        short = [r.eval_count for r in ok if r.done_reason == "stop" and r.passed is None]
    else:
        short = [r.eval_count for r in ok if r.eval_count < case.max_tokens]
    if not short:
        return []
    return [
        _w(
            "short_reply",
            f"{len(short)} of {len(ok)} replies stopped before --max-tokens "
            f"{case.output_dist or case.max_tokens} "
            f"(shortest {min(short)} tokens)",
        )
    ]


def _stability(ok: Sequence[RunSample]) -> list[BenchWarning]:
    rates = [r for r in (decode_tps(x) for x in ok) if r is not None]
    found = []
    if len(rates) >= 3:
        rest = sorted(rates[1:])
        median_rest = percentile(rest, 50)
        if rates[0] * SLOW_FIRST_FACTOR < median_rest:
            found.append(
                _w(
                    "slow_first_run",
                    f"first run decoded at {rates[0]:.1f} tok/s, the others at a median of "
                    f"{median_rest:.1f}",
                )
            )
    if len(rates) >= 4:
        # Robust (median/MAD) and with a relative floor: 39.95 against a median of 39.98 is
        # a tight cluster's edge, not an outlier worth a warning.
        z = modified_z_scores(rates)
        median = percentile(sorted(rates), 50)
        outliers = [
            i
            for i, s in enumerate(z)
            if abs(s) > OUTLIER_Z and abs(rates[i] - median) > OUTLIER_MIN_REL * median
        ]
        if outliers:
            found.append(
                _w(
                    "outliers",
                    f"{len(outliers)} of {len(rates)} runs are statistical outliers in decode "
                    f"tok/s (modified z-score > {OUTLIER_Z})",
                )
            )
    return found


def _mismatch(ok: Sequence[RunSample]) -> list[BenchWarning]:
    """Client e2e time vs the server's total_duration: they should agree for a local server."""
    worst = 0.0
    for r in ok:
        if r.e2e_s is None or r.total_duration_ns <= 0:
            continue
        server_s = r.total_duration_ns / 1e9
        e2e = r.e2e_s - (r.sched_delay_s or 0.0)  # open loop counts from the schedule
        gap = abs(e2e - server_s)
        if r.queue_s:  # a queue wait the server's total leaves out explains the difference
            gap = min(gap, abs(e2e - r.queue_s - server_s))
        if gap > MISMATCH_MIN_S and gap > MISMATCH_FRACTION * server_s:
            worst = max(worst, gap / server_s)
    if not worst:
        return []
    return [
        _w(
            "timing_mismatch",
            f"client-measured time differs from the server's total_duration by up to {worst:.0%}",
        )
    ]
