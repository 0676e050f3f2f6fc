from __future__ import annotations

import math

import pytest

from llmbox.bench.metrics import (
    answer_tps,
    decode_tps,
    modified_z_scores,
    prefill_tps,
    ratio_with_error,
    stats,
    summarize,
)
from llmbox.results import BatchStats, RunSample


def test_field_example_rates() -> None:
    # M2 MacBook Air, llama3.2-vision:11b: prompt_eval 18 tokens in 1.715 s, eval 78 in 8.896 s.
    run = RunSample(
        prompt_eval_count=18,
        prompt_eval_duration_ns=1_715_000_000,
        eval_count=78,
        eval_duration_ns=8_896_000_000,
    )
    assert prefill_tps(run) == pytest.approx(10.496, rel=1e-3)
    assert decode_tps(run) == pytest.approx(8.768, rel=1e-3)


def test_cached_prompt_tokens_do_not_inflate_prefill() -> None:
    run = RunSample(
        prompt_eval_count=1000, cached_prompt_tokens=300, prompt_eval_duration_ns=100_000_000
    )
    assert prefill_tps(run) == pytest.approx(7000.0)  # 700 new tokens in 0.1 s, not 10,000 tok/s


def test_a_prompt_mostly_served_from_cache_has_no_prefill_rate() -> None:
    run = RunSample(
        prompt_eval_count=1000, cached_prompt_tokens=900, prompt_eval_duration_ns=100_000_000
    )
    assert prefill_tps(run) is None  # it would measure the cache, not the model
    assert "prefill_tps" not in summarize([run])


def test_a_single_token_has_no_decode_rate() -> None:
    assert decode_tps(RunSample(eval_count=1, eval_duration_ns=1_000)) is None


def test_missing_durations_give_no_rate_rather_than_infinity() -> None:
    assert prefill_tps(RunSample(prompt_eval_count=10)) is None
    assert decode_tps(RunSample(eval_count=10)) is None


def test_answer_rate_excludes_thinking_tokens() -> None:
    run = RunSample(eval_count=100, thinking_tokens=60, eval_duration_ns=1_000_000_000)
    assert decode_tps(run) == 100.0
    assert answer_tps(run) == 40.0


def test_stats_sample_sd_and_percentiles_only_with_enough_samples() -> None:
    s = stats([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5
    assert s["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert s["median"] == 2.5
    assert "p90" not in s
    assert stats([float(i) for i in range(10)])["p90"] == pytest.approx(8.1)
    assert "p99" in stats([float(i) for i in range(100)])
    assert stats([]) == {}
    tails = stats([1.0, 2.0, 3.0, 4.0], tails=True)
    assert tails["p90"] == pytest.approx(3.7)
    assert tails["p99"] == pytest.approx(3.97)


def test_latency_percentiles_are_reported_at_every_concurrency() -> None:
    runs = [
        RunSample(eval_count=10, eval_duration_ns=10**8, ttft_s=t, e2e_s=1.0) for t in (1, 2, 3)
    ]
    summary = summarize(runs)
    assert summary["ttft_s"].p90 == pytest.approx(2.8)
    assert summary["ttft_s"].p99 is not None
    assert summary["decode_tps"].p90 is None  # rates keep the 10-sample rule


def test_rates_are_aggregated_per_run_not_pooled() -> None:
    runs = [
        RunSample(eval_count=100, eval_duration_ns=1_000_000_000),  # 100 tok/s
        RunSample(eval_count=10, eval_duration_ns=1_000_000_000),  # 10 tok/s
    ]
    # pooled would be 110 / 2 s = 55; the mean of per-run rates is 55 too, so use a skewed case
    runs.append(RunSample(eval_count=300, eval_duration_ns=1_000_000_000))  # 300 tok/s
    assert summarize(runs)["decode_tps"].mean == pytest.approx(410 / 3)


def test_failed_runs_are_left_out_of_the_summary() -> None:
    runs = [RunSample(eval_count=50, eval_duration_ns=10**9), RunSample(error="boom")]
    assert summarize(runs)["decode_tps"].n == 1


def test_aggregate_throughput_comes_from_batches() -> None:
    batches = [BatchStats.of(batch=0, requests=4, failed=0, wall_s=2.0, output_tokens=400)]
    summary = summarize([RunSample(eval_count=100, eval_duration_ns=10**9)], batches)
    assert summary["aggregate_tps"].mean == 200.0
    assert summary["requests_per_s"].mean == 2.0


def test_modified_z_flags_the_outlier_only() -> None:
    z = modified_z_scores([10.0, 10.1, 9.9, 10.0, 3.0])
    assert [abs(v) > 3.5 for v in z] == [False, False, False, False, True]


def test_ratio_propagates_relative_errors() -> None:
    r, sd = ratio_with_error(20.0, 2.0, 10.0, 1.0)
    assert r == 2.0
    assert sd == pytest.approx(2.0 * math.sqrt(0.01 + 0.01))
