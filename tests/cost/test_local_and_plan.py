"""The local side (speed from a report at its best concurrency) and the inputs' precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbox.cost.local import best_case, case_speed, report_chip
from llmbox.cost.plan import Flags, build, parse_spend, parse_tokens
from llmbox.errors import UsageError
from llmbox.hw.chips import load_catalog
from llmbox.results import BenchReport

REPORT = Path(__file__).parents[1] / "data" / "bench_v1_first_wave.json"


def test_single_request_case_uses_server_durations() -> None:
    report = BenchReport.load(REPORT)
    result = next(r for r in report.results if r.model == "qwen3:4b" and r.case.concurrency == 1)
    cs = case_speed(result)
    assert cs is not None
    runs = [r for r in result.runs if r.ok]
    out = sum(r.eval_count for r in runs)
    gen_s = sum(r.eval_duration_ns for r in runs) / 1e9
    pre_s = sum(r.prompt_eval_duration_ns for r in runs) / 1e9
    assert cs.speed.output_tps == pytest.approx(out / gen_s)
    assert cs.speed.input_tps == pytest.approx(sum(r.prompt_eval_count for r in runs) / pre_s)
    assert cs.speed.thinking_per_answer == pytest.approx(
        sum(r.thinking_tokens for r in runs) / len(runs)
    )


def test_concurrent_case_shares_batch_wall_time() -> None:
    report = BenchReport.load(REPORT)
    result = next(r for r in report.results if r.model == "qwen3:4b" and r.case.concurrency == 4)
    cs = case_speed(result)
    assert cs is not None
    runs = [r for r in result.runs if r.ok]
    pre = sum(r.prompt_eval_duration_ns for r in runs)
    gen = sum(r.eval_duration_ns for r in runs)
    wall = sum(b.wall_s for b in result.batches)
    expected = sum(r.eval_count for r in runs) / (wall * gen / (pre + gen))
    assert cs.speed.concurrency == 4
    assert cs.speed.output_tps == pytest.approx(expected)


def test_best_concurrency_is_chosen() -> None:
    report = BenchReport.load(REPORT)
    model, best, cases = best_case(report, "qwen3:4b")
    assert model == "qwen3:4b"
    assert len(cases) == 2
    assert best.speed.concurrency == 4
    assert best.speed.output_tps == max(c.speed.output_tps for c in cases)


def test_report_with_several_models_needs_model() -> None:
    report = BenchReport.load(REPORT)
    with pytest.raises(UsageError, match="2 models") as err:
        best_case(report, None)
    assert "--model" in (err.value.hint or "")
    with pytest.raises(UsageError, match="not in the report"):
        best_case(report, "nope:1b")


def test_report_chip_from_machine_block() -> None:
    report = BenchReport.load(REPORT)  # machine.gpus[0] = NVIDIA GeForce RTX 4070
    chip = report_chip(report, load_catalog(), None)
    assert chip is not None
    assert chip.id == "rtx4070"
    assert report_chip(report, load_catalog(), "m2").id == "m2-8c"  # type: ignore[union-attr]


def test_spend_and_tokens_parsing() -> None:
    assert parse_spend("20/day") == 20
    assert parse_spend("$140/week") == pytest.approx(20)
    assert parse_spend("20") == 20
    u = parse_tokens("2M", ratio=3)
    assert (u.input_per_day, u.output_per_day) == (1.5e6, 5e5)
    u = parse_tokens("in=1.5M,out=500k", ratio=0)
    assert (u.input_per_day, u.output_per_day) == (1.5e6, 5e5)
    for bad in ("abc", "-5", "0", "in=2M", "x=1"):
        with pytest.raises(UsageError):
            parse_tokens(bad, 1)
    for bad in ("abc", "20/fortnight", "0/day", "-3"):
        with pytest.raises(UsageError):
            parse_spend(bad)


def test_spend_converts_at_the_api_prices() -> None:
    # $20/day at in=3, out=15 with 4 input tokens per output token: 27 micro-dollars per output
    # token -> 740,741 output and 2,962,963 input tokens a day.
    from llmbox.cost.model import Speed

    speed = Speed(1000.0, 50.0, 1, 512, 128, 0)
    inp = build(Flags(spend="20/day", api_price="in=3,out=15", watts=10), speed)
    assert inp.usage is not None
    assert inp.usage.output_per_day == pytest.approx(20 / 27e-6)
    assert inp.usage.input_per_day == pytest.approx(4 * 20 / 27e-6)
    assert inp.usage.origin == "derived"


def test_power_precedence_flag_measured_catalog() -> None:
    from llmbox.cost.local import CaseSpeed
    from llmbox.cost.model import Speed
    from llmbox.hw.chips import Chip

    speed = Speed(None, 50.0)
    chip = Chip("x", "X", "nvidia", "dgpu", "nvidia-geforce", (24,), 1000, board_power_w=300)
    case = CaseSpeed("c", speed, watts=180.0, power_source="nvml")
    api = "in=1,out=2"
    assert build(Flags(watts=90, api_price=api), speed, case=case, chip=chip).watts.origin == "flag"
    measured = build(Flags(api_price=api), speed, case=case, chip=chip).watts
    assert (measured.value, measured.origin) == (180.0, "measured")
    est = build(Flags(api_price=api, utilisation=0.5), speed, chip=chip).watts
    assert (est.value, est.origin) == (150.0, "estimated")
    with pytest.raises(UsageError, match="no power figure") as err:
        build(Flags(api_price=api), speed)
    assert "--watts" in (err.value.hint or "")
    hw = build(Flags(api_price=api), speed, chip=chip).hardware_price
    assert hw.value is None
    assert "--hardware-price" in hw.detail
