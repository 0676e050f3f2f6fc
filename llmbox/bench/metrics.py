"""Pure metric functions: per-run rates, then statistics over runs.

Rates are computed per run and then aggregated (never total tokens / total time), so one slow run
shows up as spread instead of being averaged away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from llmbox.defaults import CACHED_SHARE_LIMIT
from llmbox.results import BatchStats, RunSample, Stat

NS = 1e9

#: Metrics where a higher value is better (all others: lower is better).
HIGHER_IS_BETTER = frozenset(
    {
        "prefill_tps",
        "decode_tps",
        "answer_tps",
        "aggregate_tps",
        "requests_per_s",
        "goodput",
        "slo_pass",
        "pass_rate",
    }
)

#: Latency metrics: their p90 and p99 are always reported (interpolated between the largest
#: samples when there are fewer than 10 or 100 of them), at every concurrency.
LATENCY_METRICS = frozenset(
    {"ttft_s", "ttft_answer_s", "e2e_s", "itl_s", "queue_s", "sched_delay_s"}
)


def prefill_tps(run: RunSample) -> float | None:
    """Prompt tokens evaluated per second, cached tokens excluded.

    Ollama's ``prompt_eval_count`` includes tokens reused from the KV cache while
    ``prompt_eval_duration`` covers only the new ones, so counting them would inflate the rate.

    >>> prefill_tps(RunSample(prompt_eval_count=600, cached_prompt_tokens=100,
    ...                       prompt_eval_duration_ns=250_000_000))
    2000.0
    """
    cached = run.cached_prompt_tokens or 0
    if run.cached_prompt_tokens is None and run.shared_prefix_tokens:
        # A multi-turn request whose server does not say what it reused: the conversation so far
        # was probably cached, so the rate would measure the cache (the client counted it).
        cached = min(run.shared_prefix_tokens, run.prompt_eval_count)
    evaluated = run.prompt_eval_count - cached
    if run.prompt_eval_duration_ns <= 0 or evaluated <= 0:
        return None
    if cached > CACHED_SHARE_LIMIT * run.prompt_eval_count:
        return None  # mostly served from cache: the rate would measure the cache, not the model
    return evaluated / (run.prompt_eval_duration_ns / NS)


def decode_tps(run: RunSample) -> float | None:
    """Generated tokens (thinking included) per second of generation time."""
    if run.eval_duration_ns <= 0 or run.eval_count < 2:
        return None  # one token has no decode rate worth showing
    return run.eval_count / (run.eval_duration_ns / NS)


def answer_tps(run: RunSample) -> float | None:
    """Answer tokens per second of generation time: the useful output rate of a thinking model."""
    answer = run.eval_count - run.thinking_tokens
    if run.eval_duration_ns <= 0 or answer <= 0:
        return None
    return answer / (run.eval_duration_ns / NS)


def load_s(run: RunSample) -> float:
    return run.load_duration_ns / NS


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of already sorted values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def stats(values: Iterable[float], *, tails: bool = False) -> dict[str, float]:
    """n, mean, sample sd, median, min, max; p90 from 10 samples on, p99 from 100 on (with
    ``tails``, both always).

    >>> stats([10.0, 12.0, 14.0])["sd"]
    2.0
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return {}
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    out = {
        "n": float(n),
        "mean": mean,
        "sd": sd,
        "median": percentile(xs, 50),
        "min": xs[0],
        "max": xs[-1],
        "p50": percentile(xs, 50),
    }
    if n >= 10 or tails:
        out["p90"] = percentile(xs, 90)
    if n >= 100 or tails:
        out["p99"] = percentile(xs, 99)
    return out


def modified_z_scores(values: Sequence[float]) -> list[float]:
    """Iglewicz–Hoaglin modified z-scores (0.6745·(x−median)/MAD); all 0 when MAD is 0."""
    if not values:
        return []
    xs = sorted(values)
    med = percentile(xs, 50)
    mad = percentile(sorted(abs(x - med) for x in values), 50)
    if mad == 0:
        return [0.0 for _ in values]
    return [0.6745 * (x - med) / mad for x in values]


def _present(xs: Iterable[float | None]) -> list[float]:
    return [x for x in xs if x is not None]


def slo_met(run: RunSample, slo: Mapping[str, float]) -> bool:
    """Did a successful run meet every limit? ``slo``: ``ttft_s``, ``e2e_s``, ``itl_s`` (per-run
    mean gap), ``ttft_answer_s``, ``queue_s`` → seconds. A limit on a value the run lacks fails.

    >>> slo_met(RunSample(ttft_s=1.0, e2e_s=4.0), {"ttft_s": 2, "e2e_s": 10})
    True
    """
    values = {
        "ttft_s": run.ttft_s,
        "ttft_answer_s": run.ttft_answer_s,
        "e2e_s": run.e2e_s,
        "itl_s": run.itl_mean_s,
        "queue_s": run.queue_s,
    }
    for metric, limit in slo.items():
        value = values.get(metric)
        if value is None or value > limit:
            return False
    return run.ok


def summarize(
    runs: Sequence[RunSample],
    batches: Sequence[BatchStats] = (),
    slo: Mapping[str, float] | None = None,
) -> dict[str, Stat]:
    """The summary block of a case: statistics of each metric over the successful runs."""
    ok = [r for r in runs if r.ok]
    series: dict[str, list[float]] = {
        "prefill_tps": _present(prefill_tps(r) for r in ok),
        "decode_tps": _present(decode_tps(r) for r in ok),
        "ttft_s": _present(r.ttft_s for r in ok),
        "e2e_s": _present(r.e2e_s for r in ok),
        "load_s": [load_s(r) for r in ok],
        "itl_s": _present(r.itl_mean_s for r in ok),
    }
    if any(r.thinking_tokens for r in ok):
        series["answer_tps"] = _present(answer_tps(r) for r in ok)
        series["ttft_answer_s"] = _present(r.ttft_answer_s for r in ok)
        series["thinking_share"] = [r.thinking_tokens / r.eval_count for r in ok if r.eval_count]
    checked = [r for r in runs if r.passed is not None]
    if checked:  # a failed request counts as a wrong answer
        series["pass_rate"] = [1.0 if r.passed else 0.0 for r in checked]
    timed = [b for b in batches if b.wall_s > 0]
    if timed:  # concurrent batches, or the windows of a load phase
        series["aggregate_tps"] = [b.aggregate_tps for b in timed]
        series["requests_per_s"] = [b.requests / b.wall_s for b in timed]
        series["queue_s"] = _present(r.queue_s for r in ok)
        series["sched_delay_s"] = _present(r.sched_delay_s for r in ok)
        wall_s = sum(b.wall_s for b in timed)
    else:
        series["requests_per_s"] = [1 / r.e2e_s for r in ok if r.e2e_s]
        wall_s = sum(r.e2e_s or 0.0 for r in ok)
    if slo and runs:
        met = [1.0 if slo_met(r, slo) else 0.0 for r in runs]
        series["slo_pass"] = met
        if wall_s > 0:
            series["goodput"] = [sum(met) / wall_s]
    return {
        name: Stat(**s)
        for name, xs in series.items()
        if (s := stats(xs, tails=name in LATENCY_METRICS))
    }


def ratio_with_error(a_mean: float, a_sd: float, b_mean: float, b_sd: float) -> tuple[float, float]:
    """a/b and its standard deviation by first-order error propagation (as hyperfine reports).

    >>> ratio_with_error(20.0, 0.0, 10.0, 0.0)
    (2.0, 0.0)
    """
    if b_mean == 0 or a_mean == 0:
        return (math.inf if b_mean == 0 else 0.0, 0.0)
    r = a_mean / b_mean
    return r, r * math.sqrt((a_sd / a_mean) ** 2 + (b_sd / b_mean) ** 2)
