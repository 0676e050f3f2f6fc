from __future__ import annotations

import json

import pytest

from llmbox.bench.gates import (
    Gate,
    evaluate,
    parse_gate,
    parse_regression,
    render_gate_failures,
)
from llmbox.errors import ExitCode, UsageError
from llmbox.results import BenchReport, GateResult
from tests.report.sample import sample_report


@pytest.fixture
def report() -> BenchReport:
    return sample_report()


# -- parsing --------------------------------------------------------------------------------------


def test_parse_gate_defaults_to_mean() -> None:
    assert parse_gate("decode_tps=20", "under") == Gate("decode_tps", "mean", 20.0, "under")
    assert parse_gate(" ttft_s : p90 = 1.5 ", "over") == Gate("ttft_s", "p90", 1.5, "over")
    assert parse_gate("e2e_s:max=3", "over").spec == "--fail-over e2e_s:max=3"
    assert parse_gate("decode_tps=20", "under").spec == "--fail-under decode_tps=20"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("decode_tps", "expected METRIC=VALUE"),
        ("=20", "expected METRIC=VALUE"),
        ("tokens_per_sec=20", "unknown metric 'tokens_per_sec'"),
        ("decode_tps:p95=20", "unknown statistic 'p95'"),
        ("decode_tps=fast", "'fast' is not a number"),
        ("decode_tps=nan", "finite"),
        ("decode_tps=inf", "finite"),
    ],
)
def test_bad_gate_specs_are_usage_errors_with_a_hint(spec: str, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_gate(spec, "under")
    assert needle in err.value.message
    assert err.value.message.startswith("--fail-under ")
    assert err.value.exit_code == ExitCode.USAGE
    hint = err.value.hint or ""
    for metric in ("prefill_tps", "decode_tps", "ttft_s", "aggregate_tps"):
        assert metric in hint
    assert "p90" in hint


def test_parse_gate_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        parse_gate("decode_tps=1", "sideways")


@pytest.mark.parametrize(
    ("spec", "fraction"), [("10%", 0.10), ("10", 0.10), (" 2.5 % ", 0.025), ("0%", 0.0)]
)
def test_parse_regression(spec: str, fraction: float) -> None:
    assert parse_regression(spec) == pytest.approx(fraction)


@pytest.mark.parametrize("spec", ["", "%", "ten%", "-5%", "inf", "nan%"])
def test_parse_regression_rejects(spec: str) -> None:
    with pytest.raises(UsageError, match="--max-regression"):
        parse_regression(spec)


# -- thresholds -----------------------------------------------------------------------------------


def _by_key(results: list[GateResult]) -> dict[tuple[str, str], GateResult]:
    return {(g.model, g.case): g for g in results}


def test_fail_under_and_over(report: BenchReport) -> None:
    # decode means: qwen 63.5 / 24.0, llama 31.8 / 13.6
    results = evaluate(report, fail_under=[parse_gate("decode_tps=25", "under")])
    assert len(results) == 4
    passed = {(g.model, g.case): g.passed for g in results}
    assert passed == {
        ("qwen3:4b", "pp512 tg128"): True,
        ("qwen3:4b", "pp512 tg128 c4"): False,
        ("llama3.1:8b", "pp512 tg128"): True,
        ("llama3.1:8b", "pp512 tg128 c4"): False,
    }
    failed = _by_key(results)[("qwen3:4b", "pp512 tg128 c4")]
    assert failed.kind == "under"
    assert failed.value == pytest.approx(report.results[1].summary["decode_tps"].mean)
    assert failed.limit == 25
    assert failed.message == "decode_tps mean 24.0 tok/s < 25.0 tok/s"

    over = evaluate(report, fail_over=[parse_gate("ttft_s=1", "over")])
    assert [g.passed for g in over] == [True, False, True, False]
    assert over[1].message == "ttft_s mean 1.350 s > 1.000 s"


def test_the_limit_itself_passes(report: BenchReport) -> None:
    mean = report.results[0].summary["decode_tps"].mean
    report.results = report.results[:1]
    under = evaluate(report, fail_under=[Gate("decode_tps", "mean", mean, "under")])
    over = evaluate(report, fail_over=[Gate("decode_tps", "mean", mean, "over")])
    assert [g.passed for g in under + over] == [True, True]


def test_gate_on_another_statistic(report: BenchReport) -> None:
    # llama c4 TTFT: mean 2.1, max 2.4
    report.results = report.results[3:]
    assert evaluate(report, fail_over=[parse_gate("ttft_s=2.2", "over")])[0].passed
    maxed = evaluate(report, fail_over=[parse_gate("ttft_s:max=2.2", "over")])[0]
    assert not maxed.passed
    assert maxed.stat == "max"
    assert maxed.value == pytest.approx(2.4)


def test_unmeasured_metric_fails_rather_than_passes(report: BenchReport) -> None:
    results = evaluate(report, fail_under=[parse_gate("answer_tps=1", "under")])
    by_model = {(g.model, g.case): g for g in results}
    llama = by_model[("llama3.1:8b", "pp512 tg128")]  # no thinking: no answer_tps
    assert not llama.passed
    assert llama.value is None
    assert llama.message == "answer_tps not measured"
    assert by_model[("qwen3:4b", "pp512 tg128")].passed


def test_percentile_without_enough_runs_fails_and_says_why(report: BenchReport) -> None:
    report.results = report.results[:1]  # 3 runs: no p90
    result = evaluate(report, fail_over=[parse_gate("ttft_s:p90=10", "over")])[0]
    assert not result.passed
    assert result.message == "ttft_s p90 not measured (needs 10 runs, had 3)"


def test_all_runs_failed_fails_the_gate(report: BenchReport) -> None:
    report.results[0].summary = {}
    result = evaluate(report, fail_under=[parse_gate("decode_tps=1", "under")])[0]
    assert (result.passed, result.message) == (False, "decode_tps not measured")


def test_gates_on_an_empty_report_fail(report: BenchReport) -> None:
    report.results = []
    results = evaluate(report, fail_under=[parse_gate("decode_tps=1", "under")])
    assert [(g.passed, g.message) for g in results] == [(False, "no results to check")]
    assert evaluate(report) == []


def test_no_gates_no_results(report: BenchReport) -> None:
    assert evaluate(report) == []


# -- baseline -------------------------------------------------------------------------------------


def _slower(report: BenchReport, factor: float) -> BenchReport:
    new = report.model_copy(deep=True)
    for r in new.results:
        r.summary["decode_tps"].mean *= factor
    return new


def test_regression_against_a_baseline(report: BenchReport) -> None:
    new = _slower(report, 0.8)
    results = evaluate(new, baseline=report, max_regression=0.10)
    failed = [g for g in results if not g.passed]
    assert {(g.model, g.case, g.metric) for g in failed} == {
        (r.model, r.case.label, "decode_tps") for r in report.results
    }
    assert all(g.kind == "regression" for g in results)
    first = failed[0]
    assert first.value == pytest.approx(20.0)  # percent worse
    assert first.limit == 10
    assert first.message.startswith("decode_tps 63.5 tok/s → 50.8 tok/s (-20.0%), p=0.0")
    assert first.message.endswith(", limit 10% worse")
    assert any(g.passed and g.metric == "prefill_tps" for g in results)


def test_small_change_passes_the_baseline(report: BenchReport) -> None:
    results = evaluate(_slower(report, 0.95), baseline=report, max_regression=0.10)
    assert results
    assert all(g.passed for g in results)


def test_baseline_case_missing_from_the_run_fails(report: BenchReport) -> None:
    new = report.model_copy(deep=True)
    new.results = new.results[1:]
    failed = [g for g in evaluate(new, baseline=report, max_regression=0.1) if not g.passed]
    assert failed
    assert {(g.model, g.case) for g in failed} == {("qwen3:4b", "pp512 tg128")}
    assert failed[0].message.endswith("measured in the baseline but not in this run")


def test_baseline_without_max_regression_checks_nothing(report: BenchReport) -> None:
    assert evaluate(_slower(report, 0.1), baseline=report) == []


def test_gate_results_are_json(report: BenchReport) -> None:
    results = evaluate(
        report,
        fail_under=[parse_gate("decode_tps=25", "under")],
        fail_over=[parse_gate("ttft_answer_s=5", "over")],
        baseline=report,
        max_regression=0.1,
    )
    data = json.loads(json.dumps([g.model_dump() for g in results], allow_nan=False))
    assert set(data[0]) == {
        "model", "case", "metric", "stat", "value", "limit", "kind", "passed", "message",
    }  # fmt: skip
    assert {d["kind"] for d in data} == {"under", "over", "regression"}


def test_render_gate_failures(report: BenchReport) -> None:
    results = evaluate(
        report,
        fail_under=[parse_gate("decode_tps=25", "under")],
        fail_over=[parse_gate("ttft_s=100", "over")],
    )
    text = render_gate_failures(results)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "case", "gate", "result"]
    assert len(lines) == 2 + 2  # header, rule, the two failed decode gates
    assert (
        "qwen3:4b     pp512 tg128 c4  fail-under  decode_tps mean 24.0 tok/s < 25.0 tok/s" in text
    )
    assert "ttft_s" not in text
    assert render_gate_failures([g for g in results if g.passed]) == "all gates passed\n"
