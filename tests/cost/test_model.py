"""Every figure of the cost model against values computed by hand."""

from __future__ import annotations

import pytest

from llmbox.cost.model import (
    DAYS_PER_MONTH,
    Given,
    Inputs,
    Speed,
    Usage,
    as_dict,
    compute,
    energy_usd_per_mtok,
)
from llmbox.cost.prices import parse_price


def inputs(
    *,
    watts: float = 100.0,
    kwh: float = 0.30,
    hardware: float | None = 0.0,
    years: float = 3.0,
    hours: float = 8.0,
    output_tps: float = 50.0,
    input_tps: float | None = None,
    per_answer: tuple[float, float, float] = (0, 100, 0),
    api: str = "in=3,out=15",
    usage: Usage | None = None,
    cached_share: float = 0.0,
) -> Inputs:
    i, o, t = per_answer
    return Inputs(
        speed=Speed(input_tps, output_tps, 1, i, o, t),
        watts=Given(watts, "flag"),
        kwh_price=Given(kwh, "flag"),
        hardware_price=Given(hardware, "flag" if hardware is not None else "missing"),
        amortize_years=Given(years, "flag"),
        hours_per_day=Given(hours, "flag"),
        api=parse_price(api),
        usage=usage,
        cached_share=cached_share,
    )


def test_issue_example_50_tps_100_w_30_cents() -> None:
    # 100 W / 50 tok/s = 2 J per token = 2,000 J per 1,000 tokens; a million tokens take
    # 2 MJ = 0.5556 kWh = $0.1667 at $0.30/kWh.
    res = compute(inputs())
    assert res.joules_per_output_token == pytest.approx(2.0)
    assert res.joules_per_output_token * 1000 == pytest.approx(2000)
    assert res.energy_usd_per_mtok_output == pytest.approx(0.16667, abs=1e-5)
    assert energy_usd_per_mtok(100, 50, 0.30) == pytest.approx(1 / 6)


def test_hardware_amortised_over_busy_hours() -> None:
    # $3,650 over 1 year of 10 h/day = $1 per busy hour; 50 tok/s = 180,000 tokens an hour,
    # so hardware is $5.5556 per million output tokens, plus $0.1667 of energy.
    res = compute(inputs(hardware=3650, years=1, hours=10))
    assert res.usd_per_mtok_output == pytest.approx(1e6 / 180_000 + 1 / 6)
    assert res.usd_per_mtok_output == pytest.approx(5.7222, abs=1e-4)


def test_input_tokens_cost_their_own_prefill_time() -> None:
    # 1,000 prompt tokens/s at 100 W: 0.1 J per input token; $0.30/kWh -> $0.008333 per million.
    res = compute(inputs(input_tps=1000.0))
    assert res.joules_per_input_token == pytest.approx(0.1)
    assert res.energy_usd_per_mtok_input == pytest.approx(0.1 * 1e6 / 3.6e6 * 0.30)


def test_breakeven_and_payback() -> None:
    # Free electricity isolates the hardware: $1,461 over 1 year = $121.75/month = $4/day.
    # The API charges $10 per million output tokens: break-even at 400,000 tokens/day.
    base = {"kwh": 0.0, "hardware": 1461.0, "years": 1.0, "api": "in=0,out=10"}
    res = compute(inputs(**base))  # type: ignore[arg-type]
    daily = 1461 / 12 / DAYS_PER_MONTH
    assert daily == pytest.approx(4.0)
    assert res.breakeven_tokens_per_day == pytest.approx(400_000)
    assert res.payback_months is None  # no usage given
    # At 1M output tokens/day the API costs $10 x 30.4375 = $304.375 a month: payback
    # 1461 / 304.375 = 4.8 months.
    used = compute(inputs(**base, usage=Usage(0, 1e6)))  # type: ignore[arg-type]
    assert used.monthly is not None
    assert used.monthly.api_usd == pytest.approx(304.375)
    assert used.monthly.local_usd == pytest.approx(121.75)
    assert used.payback_months == pytest.approx(4.8)
    assert "Local pays off" in used.verdict
    assert "4.8 months" in used.verdict


def test_breakeven_counts_input_tokens_in_the_mix() -> None:
    # 3 input tokens per output token; API in=1, out=7: $10 per million output tokens with their
    # input; break-even 400,000 output tokens = 1.6M tokens in all.
    res = compute(
        inputs(kwh=0.0, hardware=1461.0, years=1.0, api="in=1,out=7", per_answer=(300, 100, 0))
    )
    assert res.breakeven_tokens_per_day == pytest.approx(1_600_000)


def test_api_cheaper_than_local_electricity_never_pays_off() -> None:
    # 400 W at 10 tok/s = 40 J/token: $3.33 of electricity per million at $0.30; API $0.40.
    res = compute(inputs(watts=400, output_tps=10, hardware=2000, api="in=0.1,out=0.4"))
    assert res.energy_usd_per_mtok_output == pytest.approx(40 * 1e6 / 3.6e6 * 0.3)
    assert res.breakeven_tokens_per_day is None
    assert res.verdict.startswith("custom is cheaper")
    assert "never pays off" in res.verdict


def test_breakeven_beyond_capacity_says_so() -> None:
    # Capacity at 8 h/day and 50 tok/s: 1.44M output tokens/day; an expensive machine against a
    # cheap API breaks even far above that.
    res = compute(inputs(kwh=0.0, hardware=100_000, years=1.0, api="in=0,out=1"))
    assert res.capacity_output_per_day == pytest.approx(1_440_000)
    assert res.breakeven_tokens_per_day is not None
    assert res.breakeven_tokens_per_day > 1_440_000
    assert "serves at most 1.44M tokens/day in 8 h" in res.verdict


def test_usage_beyond_hours_is_flagged() -> None:
    res = compute(inputs(hardware=1000, usage=Usage(0, 2_880_000)))
    assert res.monthly is not None
    assert res.monthly.busy_hours_per_day == pytest.approx(16.0)
    assert not res.monthly.served
    assert any("16.0 h/day" in n for n in res.notes)
    assert "cannot serve" in res.verdict


def test_missing_hardware_price_leaves_hardware_figures_out() -> None:
    res = compute(inputs(hardware=None, usage=Usage(0, 1e6)))
    assert res.usd_per_mtok_output is None
    assert res.breakeven_tokens_per_day is None
    assert res.payback_months is None
    assert res.monthly is not None
    assert res.monthly.local_usd is None
    assert "--hardware-price" in res.verdict


def test_thinking_tokens_are_output_tokens_and_shown_apart() -> None:
    # 512 prompt tokens, 128 generated of which 40 thinking; API in=3, out=15:
    # answer = 512 x 3 + 128 x 15 = 3,456 micro-dollars; thinking = 40 x 15 = 600.
    res = compute(inputs(per_answer=(512, 128, 40), input_tps=1000.0, usage=Usage(0, 1e6)))
    a = res.per_answer
    assert a is not None
    assert a.api_usd == pytest.approx(0.003456)
    assert a.api_thinking_usd == pytest.approx(0.0006)
    assert res.inputs.speed.thinking_share == pytest.approx(40 / 128)
    # energy of one answer: 512 x 0.1 J + 128 x 2 J = 307.2 J
    assert a.local_energy_usd == pytest.approx(307.2 / 3.6e6 * 0.30)
    assert a.local_thinking_usd == pytest.approx(40 * 2 / 3.6e6 * 0.30)
    assert res.monthly is not None
    assert res.monthly.api_thinking_usd == pytest.approx(1e6 * 40 / 128 * 15 / 1e6 * DAYS_PER_MONTH)


def test_cached_share_lowers_the_api_input_price() -> None:
    res = compute(inputs(api="in=3,out=15,cached=0.3", cached_share=0.5))
    assert res.api_usd_per_mtok_input == pytest.approx(1.65)


def test_json_has_the_documented_keys() -> None:
    data = as_dict(compute(inputs(hardware=1000, usage=Usage(1e6, 1e6))), label="x")
    assert data["local"]["joules_per_token"] == 2.0
    for key in ("usd_per_mtok_output", "energy_usd_per_mtok_output"):
        assert key in data["local"]
    assert data["api"]["usd_per_mtok_output"] == 15.0
    assert "breakeven_tokens_per_day" in data
    assert "payback_months" in data
    assert data["inputs"]["watts"] == {"value": 100.0, "source": "flag"}
    assert data["inputs"]["tokens_per_day"]["output"] == 1e6
