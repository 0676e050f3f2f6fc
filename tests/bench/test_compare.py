from __future__ import annotations

import json
import math

import pytest

from llmbox.bench.compare import COMPARE_METRICS, compare_reports, verdicts
from llmbox.bench.comparison import Comparison
from llmbox.report.exporters import render_comparison
from llmbox.results import BenchReport, Case, CaseResult, ModelInfo, Server, Stat
from tests.report.sample import sample_report


def _stat(mean: float, sd: float, n: float = 5.0) -> Stat:
    return Stat(n=n, mean=mean, sd=sd, median=mean, min=mean - sd, max=mean + sd, p50=mean)


def _report(*results: tuple[str, str, dict[str, tuple[float, float]]]) -> BenchReport:
    """A minimal report: (model, label, {metric: (mean, sd)}), 5 runs each."""
    return BenchReport(
        llmbox_version="test",
        backend="ollama",
        server=Server(kind="ollama", host="http://h"),
        started_at="2026-01-01T00:00:00Z",
        results=[
            CaseResult(
                model=model,
                model_info=ModelInfo(name=model),
                case=Case(label=label),
                summary={m: _stat(mean, sd) for m, (mean, sd) in s.items()},
            )
            for model, label, s in results
        ],
    )


def _scale(report: BenchReport, model: str, metric: str, factor: float) -> BenchReport:
    out = report.model_copy(deep=True)
    for r in out.results:
        if r.model == model and metric in r.summary:
            r.summary[metric].mean *= factor
    return out


def _table(base: BenchReport, new: BenchReport, threshold: float | None) -> str:
    rows = compare_reports(base, new, threshold=threshold)
    pct = None if threshold is None else threshold * 100
    return render_comparison("table", Comparison(base, new, rows, pct))


# -- verdicts -------------------------------------------------------------------------------------


def test_verdict_fastest_against_each_other_model_slowest_last() -> None:
    report = _report(
        ("slow:8b", "tg128", {"decode_tps": (10.0, 0.0), "prefill_tps": (400.0, 0.0)}),
        ("fast:4b", "tg128", {"decode_tps": (20.0, 0.0), "prefill_tps": (300.0, 0.0)}),
        ("mid:7b", "tg128", {"decode_tps": (16.0, 0.0)}),
    )
    assert verdicts(report) == [
        "fast:4b ran 1.25 ± 0.00× faster than mid:7b at decode (tg128)",
        "fast:4b ran 2.00 ± 0.00× faster than slow:8b at decode (tg128)",
        "slow:8b ran 1.33 ± 0.00× faster than fast:4b at prefill (tg128)",
    ]


def test_verdict_error_propagates_both_sds() -> None:
    report = _report(
        ("a", "c", {"decode_tps": (20.0, 1.0)}),
        ("b", "c", {"decode_tps": (10.0, 1.0)}),
    )
    # 2 · sqrt(0.05² + 0.1²) = 0.2236
    assert verdicts(report) == ["a ran 2.00 ± 0.22× faster than b at decode (c)"]


def test_verdict_for_equal_speeds_does_not_say_faster() -> None:
    report = _report(
        ("a", "c", {"prefill_tps": (500.0, 5.0)}),
        ("b", "c", {"prefill_tps": (499.0, 5.0)}),
    )
    assert verdicts(report) == ["a and b: no significant difference at prefill (c, p=0.76)"]


def test_verdict_needs_significance_not_just_a_different_mean() -> None:
    noisy = _report(
        ("a", "c", {"decode_tps": (41.0, 3.0)}),
        ("b", "c", {"decode_tps": (40.0, 3.0)}),
    )
    assert verdicts(noisy) == ["a and b: no significant difference at decode (c, p=0.61)"]
    tight = _report(
        ("a", "c", {"decode_tps": (41.0, 0.3)}),
        ("b", "c", {"decode_tps": (40.0, 0.3)}),
    )
    assert verdicts(tight) == ["a ran 1.02 ± 0.01× faster than b at decode (c)"]


def test_no_verdict_for_a_case_on_one_model_or_without_the_metric() -> None:
    report = _report(
        ("a", "pp512", {"decode_tps": (20.0, 1.0)}),
        ("b", "tg128", {"decode_tps": (10.0, 1.0)}),
        ("a", "tg32", {"decode_tps": (10.0, 1.0)}),
        ("b", "tg32", {}),  # every run failed
    )
    assert verdicts(report) == []


def test_verdicts_on_the_sample_report() -> None:
    lines = verdicts(sample_report())
    assert len(lines) == 4
    assert lines[0].startswith("qwen3:4b ran 2.00 ± 0.11× faster than llama3.1:8b at decode")


# -- compare_reports -------------------------------------------------------------------------------


def test_identical_reports_have_no_regression() -> None:
    base = sample_report()
    rows = compare_reports(base, base.model_copy(deep=True), threshold=0.05)
    assert rows
    assert not any(r.regression for r in rows)
    assert {r.status for r in rows} == {"same"}
    assert all(r.ratio == pytest.approx(1.0) for r in rows if r.ratio is not None)
    metrics = {r.metric for r in rows}
    assert metrics <= set(COMPARE_METRICS)
    assert "aggregate_tps" in metrics  # the c4 case
    assert "itl_s" not in metrics


def test_direction_aware_regressions() -> None:
    base = _report(("m", "c", {"decode_tps": (50.0, 1.0), "ttft_s": (0.5, 0.01)}))
    slower_decode = _scale(base, "m", "decode_tps", 0.85)  # −15 %: worse
    rows = {r.metric: r for r in compare_reports(base, slower_decode, threshold=0.10)}
    assert rows["decode_tps"].regression
    assert rows["decode_tps"].status == "regression"
    assert rows["decode_tps"].change_pct == pytest.approx(-15.0)
    assert rows["decode_tps"].worse_pct == pytest.approx(15.0)
    assert rows["decode_tps"].ratio == pytest.approx(0.85)
    assert not rows["ttft_s"].regression

    faster_decode = _scale(base, "m", "decode_tps", 1.5)
    row = compare_reports(base, faster_decode, threshold=0.10)[0]
    assert (row.status, row.regression) == ("better", False)

    slower_ttft = _scale(base, "m", "ttft_s", 1.2)  # +20 % time: worse
    rows = {r.metric: r for r in compare_reports(base, slower_ttft, threshold=0.10)}
    assert rows["ttft_s"].regression
    faster_ttft = _scale(base, "m", "ttft_s", 0.5)
    rows = {r.metric: r for r in compare_reports(base, faster_ttft, threshold=0.10)}
    assert rows["ttft_s"].status == "better"


def test_worse_within_threshold_is_not_a_regression() -> None:
    base = _report(("m", "c", {"decode_tps": (50.0, 1.0)}))
    row = compare_reports(base, _scale(base, "m", "decode_tps", 0.95), threshold=0.10)[0]
    assert (row.status, row.regression) == ("worse", False)


def test_without_threshold_nothing_is_a_regression() -> None:
    base = _report(("m", "c", {"decode_tps": (50.0, 1.0)}))
    row = compare_reports(base, _scale(base, "m", "decode_tps", 0.5))[0]
    assert (row.status, row.regression, row.threshold_pct) == ("worse", False, None)


def test_tiny_time_changes_are_not_regressions() -> None:
    base = _report(("m", "c", {"load_s": (0.004, 0.001), "e2e_s": (2.0, 0.1)}))
    new = _scale(_scale(base, "m", "load_s", 2.0), "m", "e2e_s", 2.0)
    rows = {r.metric: r for r in compare_reports(base, new, threshold=0.10)}
    assert rows["load_s"].status == "worse"  # +100 % but only 4 ms
    assert not rows["load_s"].regression
    assert rows["e2e_s"].regression


def test_missing_and_new_results() -> None:
    base = _report(
        ("gone", "c", {"decode_tps": (10.0, 0.0)}),
        ("m", "c", {"decode_tps": (10.0, 0.0)}),
    )
    new = _report(
        ("m", "c", {"decode_tps": (10.0, 0.0)}),
        ("added", "c", {"decode_tps": (30.0, 0.0)}),
    )
    rows = compare_reports(base, new, threshold=0.1)
    assert [(r.model, r.status) for r in rows] == [
        ("m", "same"),
        ("added", "new"),
        ("gone", "regression"),
    ]
    assert rows[2].new_mean is None
    no_threshold = compare_reports(base, new)
    assert [r.status for r in no_threshold] == ["same", "new", "missing"]
    assert not any(r.regression for r in no_threshold)


def test_zero_base_mean_gives_no_ratio_and_valid_json() -> None:
    base = _report(("m", "c", {"load_s": (0.0, 0.0)}))
    new = _report(("m", "c", {"load_s": (2.5, 0.0)}))
    row = compare_reports(base, new, threshold=0.1)[0]
    assert row.ratio is None
    assert row.change_pct is None
    assert row.regression  # 2.5 s more load than nothing
    text = render_comparison("json", Comparison(base, new, [row], 10.0))
    json.loads(text)
    assert "NaN" not in text
    assert "Infinity" not in text


def test_json_form() -> None:
    base = sample_report()
    new = BenchReport.parse(
        json.loads(json.dumps(_scale(base, "llama3.1:8b", "decode_tps", 0.5).to_json_dict()))
    )
    rows = compare_reports(base, new, threshold=0.1)
    data = json.loads(render_comparison("json", Comparison(base, new, rows, 10.0)))
    assert data["regressions"] == 2  # llama decode in both cases
    first = data["rows"][0]
    assert set(first) >= {"model", "case", "metric", "base_mean", "new_mean", "ratio", "p_value"}
    assert all(math.isfinite(r["ratio"]) for r in data["rows"] if r["ratio"] is not None)


@pytest.mark.parametrize("fmt", ["csv", "md", "jsonl"])
def test_other_formats_carry_every_row(fmt: str) -> None:
    base = _report(("m", "c", {"decode_tps": (50.0, 1.0), "ttft_s": (0.5, 0.01)}))
    new = _scale(base, "m", "decode_tps", 0.8)
    rows = compare_reports(base, new, threshold=0.1)
    text = render_comparison(fmt, Comparison(base, new, rows, 10.0))
    assert text.count("decode_tps") == 1
    assert text.count("ttft_s") == 1
    assert "regression" in text


def test_render_comparison() -> None:
    base = _report(("qwen3:4b", "tg128", {"decode_tps": (50.0, 1.0), "ttft_s": (0.5, 0.01)}))
    new = _scale(base, "qwen3:4b", "decode_tps", 0.8)
    text = _table(base, new, 0.1)
    lines = text.splitlines()
    assert lines[0].split() == [
        "model",
        "case",
        "metric",
        "base",
        "new",
        "new/base",
        "change",
        "p",
        "status",
    ]
    decode = next(line for line in lines if "decode_tps" in line)
    assert "50.0 tok/s" in decode
    assert "40.0 tok/s" in decode
    assert "0.80 ± 0.03×" in decode  # 0.8 · sqrt((1/40)² + (1/50)²)
    assert "-20.0%" in decode
    assert decode.endswith("regression")
    ttft = next(line for line in lines if "ttft_s" in line)
    assert "500.0 ms" in ttft
    assert ttft.endswith("same")
    assert lines[-1] == "1 significant regression(s) beyond 10%"


def test_render_comparison_with_nothing_in_common() -> None:
    base = _report(("a", "c", {"decode_tps": (1.0, 0.0)}))
    new = _report(("b", "d", {}))
    assert "nothing to compare" in render_comparison("table", Comparison(base, new, [], None))
