"""The report's numbers: pooling, the significance test, and each chart's table."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from llmbox.bench.metrics import stats
from llmbox.hw.chips import load_catalog
from llmbox.hw.estimate import GB, Workload, estimate
from llmbox.hw.models import load_models, with_quant
from llmbox.report import data as d
from llmbox.report.ceiling import ceilings
from tests.browser.reports import (
    DAY0,
    LEVELS,
    MODELS,
    OUTPUTS,
    PROMPTS,
    REGRESSIONS,
    RUNS,
    bench_report,
    history,
    typed,
)


@pytest.fixture(scope="module")
def items() -> list[d.Entry]:
    return d.entries(history())


def test_pooling_summaries_equals_statistics_of_all_samples() -> None:
    rng = random.Random(1)
    chunks = [[rng.gauss(50, 5) for _ in range(n)] for n in (3, 7, 1, 12)]
    parts = [(s["n"], s["mean"], s["sd"]) for s in map(stats, chunks)]
    pooled = d.pool(parts)
    everything = stats(x for chunk in chunks for x in chunk)
    assert pooled is not None
    assert pooled.n == everything["n"]
    assert pooled.mean == pytest.approx(everything["mean"], rel=1e-12)
    assert pooled.sd == pytest.approx(everything["sd"], rel=1e-12)


def test_speed_vs_prompt_has_one_point_per_series_length_and_metric(items: list[d.Entry]) -> None:
    rows = d.speed_vs(items, "prompt_tokens")
    assert len(rows) == len(MODELS) * len(PROMPTS) * 2
    point = next(
        r
        for r in rows
        if r["series"] == "qwen3:4b" and r["prompt_tokens"] == 128 and r["metric"] == "decode"
    )
    # Pooled over both output lengths and three days, single-request cases only.
    assert point["n"] == RUNS * len(OUTPUTS) * 3
    assert 0 < point["sd"] < point["mean"] / 5
    assert 18 < point["mean"] < 23


def test_concurrency_percentiles_come_from_the_requests(items: list[d.Entry]) -> None:
    rows = d.concurrency(items)
    assert {(r["series"], r["concurrency"]) for r in rows} == {
        (m[0], c) for m in MODELS for c in LEVELS
    }
    solo = next(r for r in rows if r["series"] == "qwen3:4b" and r["concurrency"] == 1)
    ttfts = sorted(
        run.ttft_s
        for e in items
        if e.series == "qwen3:4b" and e.case.concurrency == 1
        for run in e.result.runs
    )
    assert solo["ttft_n"] == len(ttfts)
    assert solo["ttft_p99_ms"] <= max(ttfts) * 1000
    assert solo["ttft_p50_ms"] < solo["ttft_p99_ms"]


def test_histogram_counts_every_request_in_shared_bins(items: list[d.Entry]) -> None:
    rows = d.histogram(items, "ttft_s")
    for series in {m[0] for m in MODELS}:
        mine = [r for r in rows if r["series"] == series]
        requests = sum(len(e.result.runs) for e in items if e.series == series)
        assert sum(r["count"] for r in mine) == requests
        assert sum(r["share"] for r in mine) == pytest.approx(1, abs=1e-3)
    widths = {round(r["to_ms"] - r["from_ms"], 6) for r in rows}
    assert len(widths) == 1


def test_side_by_side_names_the_faster_model_and_tests_it(items: list[d.Entry]) -> None:
    rows, verdicts = d.side_by_side(items)
    assert len(rows) == len(MODELS) * len(PROMPTS) * len(OUTPUTS) * len(LEVELS) * 2
    decode = [v for v in verdicts if v.metric == "decode"]
    assert all(v.faster == "llama3.2:3b" and v.slower == "qwen3:4b" for v in decode)
    assert all(v.significant for v in decode)
    assert decode[0].text.startswith("llama3.2:3b ran ")
    assert "faster than qwen3:4b at decode" in decode[0].text


def test_equal_models_get_no_significant_difference() -> None:
    twins = (("twin-a:1b", 20.0, 100.0, "1B"), ("twin-b:1b", 20.0, 100.0, "1B"))
    _, verdicts = d.side_by_side(d.entries([typed(bench_report(models=twins))]))
    assert verdicts
    assert not any(v.significant for v in verdicts if v.metric == "decode")
    assert "no significant difference at decode" in verdicts[0].text


def test_no_verdict_for_a_case_only_one_model_ran() -> None:
    one = d.entries([typed(bench_report(models=MODELS[:1]))])
    rows, verdicts = d.side_by_side(one)
    assert rows == []
    assert verdicts == []


def test_trend_marks_the_regression_the_store_found(items: list[d.Entry]) -> None:
    rows = d.trend(items, REGRESSIONS)
    cases = len(PROMPTS) * len(OUTPUTS) * len(LEVELS)
    assert len(rows) == len(MODELS) * cases * 3
    flagged = [r for r in rows if "regression" in r]
    assert len(flagged) == 1
    assert flagged[0]["series"] == "llama3.2:3b"
    assert flagged[0]["case"] == "pp128 tg32"
    assert flagged[0]["at"] == (DAY0 + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_long_history_is_bucketed_not_dropped() -> None:
    base = bench_report(models=MODELS[:1])
    base["results"] = base["results"][:1]
    reports = []
    for i in range(d.MAX_TREND_POINTS * 3):
        copy = dict(base, started_at=(DAY0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        reports.append(typed(copy))
    rows = d.trend(d.entries(reports))
    assert len(rows) <= d.MAX_TREND_POINTS
    assert sum(r["runs"] for r in rows) == len(reports)


def test_series_name_the_machine_only_when_there_are_several() -> None:
    a, b = typed(bench_report(hostname="box-a")), typed(bench_report(hostname="box-b"))
    assert {e.series for e in d.entries([a])} == {"llama3.2:3b", "qwen3:4b"}
    assert "llama3.2:3b · box-b" in {e.series for e in d.entries([a, b])}


def test_ceiling_is_measured_speed_times_bytes_over_bandwidth(items: list[d.Entry]) -> None:
    catalog, models = load_catalog(), load_models()
    result = ceilings(items, catalog, models, chip="m4pro")
    row = next(
        r
        for r in result.rows
        if r["series"] == "qwen3:4b" and r["case"] == "pp512 tg128" and r["metric"] == "decode"
    )
    chip = catalog.resolve("m4pro")
    spec = with_quant(models.resolve("qwen3:4b"), "Q4_K_M")
    per_token = spec.active_weight_bytes + spec.kv_bytes_per_token * (512 + 128 / 2)
    assert row["measured_pct"] == pytest.approx(
        row["measured"] * per_token / (chip.bw_gbs * GB) * 100, rel=1e-3
    )
    predicted = estimate(
        chip, catalog, spec, Workload(prompt_tokens=512, gen_tokens=128, memory_gb=64 * 2**30 / GB)
    )
    assert row["predicted"] == pytest.approx(predicted.decode_tps, rel=1e-3)
    assert row["chip"] == chip.name
    assert any(chip.name in h and "memory bandwidth" in h for h in result.headlines)


def test_ceiling_describes_another_machine_from_its_facts(items: list[d.Entry]) -> None:
    result = ceilings(items, load_catalog(), load_models())
    assert {r["chip"] for r in result.rows} == {"Test CPU 16-Core, 16 cores"}
    assert all(
        math.isfinite(r["measured_pct"]) and r["measured_pct"] > 0
        for r in result.rows
        if "measured_pct" in r
    )


def test_a_model_the_estimator_cannot_describe_is_noted_not_fatal() -> None:
    data = bench_report(models=(("mystery:latest", 20.0, 100.0, ""),))
    for result in data["results"]:
        result["model_info"]["parameter_count"] = None
    result = ceilings(d.entries([typed(data)]), load_catalog(), load_models())
    assert result.rows == []
    assert result.notes
    assert "mystery:latest" in result.notes[0]


def test_a_share_beyond_the_chips_peak_is_not_printed_as_a_speed() -> None:
    # Runs read against a far slower chip than the server's (a remote --host, or the wrong
    # --chip) would be "4877 % of the peak": the headline says the server ran elsewhere instead.
    from llmbox.report.ceiling import _headlines

    row = {"chip": "Jetson", "metric": "decode", "ceiling": "memory bandwidth"}
    lines = _headlines([{**row, "measured_pct": 4877.0}, {**row, "metric": "prefill",
                        "measured_pct": 62.0}])  # fmt: skip
    assert lines[0].startswith("decode measured 4877 % of the peak memory bandwidth of Jetson")
    assert "more than this chip can do" in lines[0]
    assert "--chip" in lines[0]
    assert (
        lines[1]
        == "prefill reached 62 % of the peak memory bandwidth of Jetson (median of 1 result)"
    )
