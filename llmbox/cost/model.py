"""The cost model: energy and money per token, local against a hosted API. Pure arithmetic.

Everything is derived from a few measured or stated quantities:

* the machine's speed while busy: prompt (input) and generated (output) tokens per second of
  busy time — at the best measured concurrency when a run has several;
* its power while busy (W), measured or stated; the electricity price (USD/kWh);
* its price, paid off over ``amortize_years`` of ``hours_per_day`` busy hours;
* the API's price per million input, cached-input and output tokens;
* the usage: input and output tokens per day (output includes thinking tokens, which every
  provider bills as output).

A token's energy is ``watts / (tokens per second)`` joules; one kWh is 3.6 MJ. Hardware costs
``price / (years x 365 x hours x 3600)`` USD per busy second, shared by the tokens of that second.
A month is 365.25 / 12 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from llmbox.cost.prices import ApiPrice

J_PER_KWH = 3.6e6
MTOK = 1e6
DAYS_PER_MONTH = 365.25 / 12
Origin = Literal["measured", "catalog", "estimated", "flag", "default", "derived", "missing"]


@dataclass(frozen=True)
class Given:
    """One input of the model and where it came from (the JSON's ``inputs`` block)."""

    value: float | None
    origin: Origin
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": _round(self.value), "source": self.origin}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Speed:
    """What the local machine does per second of busy time, and what one answer takes."""

    input_tps: float | None  # None: no prefill time was measured (input tokens cost nothing)
    output_tps: float
    concurrency: int = 1
    #: Tokens of one answer: prompt, generated (answer + thinking) and the thinking among them.
    input_per_answer: float = 0.0
    output_per_answer: float = 0.0
    thinking_per_answer: float = 0.0
    origin: Origin = "measured"
    detail: str = ""

    @property
    def thinking_share(self) -> float:
        return self.thinking_per_answer / self.output_per_answer if self.output_per_answer else 0.0


@dataclass(frozen=True)
class Usage:
    """Tokens a day: input (prompt) and output (answer + thinking)."""

    input_per_day: float
    output_per_day: float
    origin: Origin = "flag"
    detail: str = ""

    @property
    def total(self) -> float:
        return self.input_per_day + self.output_per_day


@dataclass(frozen=True)
class Inputs:
    speed: Speed
    watts: Given
    kwh_price: Given
    hardware_price: Given  # value None: unknown (hardware figures are left out)
    amortize_years: Given
    hours_per_day: Given
    api: ApiPrice
    usage: Usage | None = None
    #: Share of input tokens the API serves from its prompt cache (at the cached price).
    cached_share: float = 0.0


@dataclass(frozen=True)
class PerAnswer:
    input_tokens: float
    output_tokens: float
    thinking_tokens: float
    local_usd: float | None  # energy + hardware (None without a hardware price)
    local_energy_usd: float
    api_usd: float
    api_thinking_usd: float
    local_thinking_usd: float | None


@dataclass(frozen=True)
class Monthly:
    local_usd: float | None  # None: no hardware price
    local_energy_usd: float
    local_hardware_usd: float | None
    api_usd: float
    api_thinking_usd: float
    busy_hours_per_day: float
    served: bool  # fits in hours_per_day


@dataclass(frozen=True)
class CostResult:
    inputs: Inputs
    joules_per_output_token: float
    joules_per_input_token: float
    energy_usd_per_mtok_output: float
    energy_usd_per_mtok_input: float
    usd_per_mtok_output: float | None
    usd_per_mtok_input: float | None
    api_usd_per_mtok_input: float
    api_usd_per_mtok_output: float
    #: Most output tokens a day the machine serves in ``hours_per_day`` at the usage's mix.
    capacity_output_per_day: float
    per_answer: PerAnswer | None
    monthly: Monthly | None
    breakeven_tokens_per_day: float | None
    payback_months: float | None
    verdict: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def energy_usd_per_mtok(watts: float, tokens_per_s: float, kwh_price: float) -> float:
    """USD of electricity per million tokens.

    >>> round(energy_usd_per_mtok(100, 50, 0.30), 4)  # 2 J/token, 2 MJ = 0.556 kWh per million
    0.1667
    """
    return watts / tokens_per_s * MTOK / J_PER_KWH * kwh_price


def hardware_usd_per_second(price: float, years: float, hours_per_day: float) -> float:
    """USD of hardware per busy second, paid off over ``years`` of ``hours_per_day``."""
    return price / (years * 365 * hours_per_day * 3600)


def _round(x: float | None, digits: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, digits)


def input_ratio(inp: Inputs) -> float:
    """Input tokens per output token: the usage's mix, else the measured answer's."""
    if inp.usage is not None and inp.usage.output_per_day > 0:
        return inp.usage.input_per_day / inp.usage.output_per_day
    s = inp.speed
    return s.input_per_answer / s.output_per_answer if s.output_per_answer else 0.0


def api_input_price(api: ApiPrice, cached_share: float) -> float:
    """USD per million input tokens at the API, with a share served from its cache."""
    cached = api.cached_input if api.cached_input is not None else api.input
    return (1 - cached_share) * api.input + cached_share * cached


def compute(inp: Inputs) -> CostResult:
    """Every figure of ``llmbox cost`` from its inputs (see the module docstring)."""
    s, notes = inp.speed, []
    watts = inp.watts.value or 0.0
    kwh = inp.kwh_price.value or 0.0
    years = inp.amortize_years.value or 0.0
    hours = inp.hours_per_day.value or 0.0
    j_out = watts / s.output_tps
    j_in = watts / s.input_tps if s.input_tps else 0.0
    if not s.input_tps:
        notes.append("no prompt-processing time was measured: input tokens cost no energy here")
    e_out = j_out * MTOK / J_PER_KWH * kwh
    e_in = j_in * MTOK / J_PER_KWH * kwh
    hw_s = (
        hardware_usd_per_second(inp.hardware_price.value, years, hours)
        if inp.hardware_price.value is not None
        else None
    )
    sec_out = 1 / s.output_tps  # busy seconds per token
    sec_in = 1 / s.input_tps if s.input_tps else 0.0
    usd_out = e_out + hw_s * sec_out * MTOK if hw_s is not None else None
    usd_in = e_in + hw_s * sec_in * MTOK if hw_s is not None else None
    a_in = api_input_price(inp.api, inp.cached_share)
    a_out = inp.api.output
    r = input_ratio(inp)
    # Per output token, with the r input tokens that come with it:
    local_energy_unit = (r * e_in + e_out) / MTOK
    api_unit = (r * a_in + a_out) / MTOK
    busy_s_unit = r * sec_in + sec_out
    capacity = hours * 3600 / busy_s_unit
    per_answer = _per_answer(s, e_in, e_out, hw_s, a_in, a_out, sec_in, sec_out)
    hw_price = inp.hardware_price.value
    fixed = hw_price / (12 * years) if hw_price is not None else None
    saving_unit = api_unit - local_energy_unit
    breakeven = None
    if fixed is not None and saving_unit > 0:
        breakeven = fixed / (DAYS_PER_MONTH * saving_unit) * (1 + r)
    monthly, payback = None, None
    if inp.usage is not None:
        u = inp.usage
        busy_h = (u.input_per_day * sec_in + u.output_per_day * sec_out) / 3600
        energy_m = (u.input_per_day * e_in + u.output_per_day * e_out) / MTOK * DAYS_PER_MONTH
        api_m = (u.input_per_day * a_in + u.output_per_day * a_out) / MTOK * DAYS_PER_MONTH
        thinking_m = u.output_per_day * s.thinking_share * a_out / MTOK * DAYS_PER_MONTH
        monthly = Monthly(
            local_usd=energy_m + fixed if fixed is not None else None,
            local_energy_usd=energy_m,
            local_hardware_usd=fixed,
            api_usd=api_m,
            api_thinking_usd=thinking_m,
            busy_hours_per_day=busy_h,
            served=busy_h <= hours,
        )
        if not monthly.served:
            notes.append(
                f"this usage needs {busy_h:.1f} h/day of generation at this speed, "
                f"more than --hours-per-day {hours:g}"
            )
        if inp.hardware_price.value is not None and api_m > energy_m and monthly.served:
            payback = inp.hardware_price.value / (api_m - energy_m)
    verdict = _verdict(inp, e_out, a_out, saving_unit, breakeven, capacity, r, monthly, payback)
    return CostResult(
        inputs=inp,
        joules_per_output_token=j_out,
        joules_per_input_token=j_in,
        energy_usd_per_mtok_output=e_out,
        energy_usd_per_mtok_input=e_in,
        usd_per_mtok_output=usd_out,
        usd_per_mtok_input=usd_in,
        api_usd_per_mtok_input=a_in,
        api_usd_per_mtok_output=a_out,
        capacity_output_per_day=capacity,
        per_answer=per_answer,
        monthly=monthly,
        breakeven_tokens_per_day=breakeven,
        payback_months=payback,
        verdict=verdict,
        notes=tuple(notes),
    )


def _per_answer(
    s: Speed,
    e_in: float,
    e_out: float,
    hw_s: float | None,
    a_in: float,
    a_out: float,
    sec_in: float,
    sec_out: float,
) -> PerAnswer | None:
    if not s.output_per_answer:
        return None
    i, o, t = s.input_per_answer, s.output_per_answer, s.thinking_per_answer
    energy = (i * e_in + o * e_out) / MTOK
    busy = i * sec_in + o * sec_out
    local = energy + hw_s * busy if hw_s is not None else None
    local_thinking = t * (e_out / MTOK + (hw_s or 0.0) * sec_out) if hw_s is not None else None
    return PerAnswer(
        input_tokens=i,
        output_tokens=o,
        thinking_tokens=t,
        local_usd=local,
        local_energy_usd=energy,
        api_usd=(i * a_in + o * a_out) / MTOK,
        api_thinking_usd=t * a_out / MTOK,
        local_thinking_usd=local_thinking,
    )


def tokens(n: float) -> str:
    """A token count the way people say it.

    >>> tokens(1_234_567), tokens(56_000), tokens(999)
    ('1.23M', '56k', '999')
    """
    if n >= 1e9:
        return f"{n / 1e9:.3g}B"
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    if n >= 1e3:
        return f"{n / 1e3:.3g}k"
    return f"{n:.0f}"


def usd(x: float) -> str:
    """Dollars with sensible precision.

    >>> usd(1234.5), usd(12.345), usd(0.3), usd(0.01234)
    ('$1,234', '$12.35', '$0.30', '$0.0123')
    """
    if abs(x) >= 1000:
        return f"${x:,.0f}"
    if abs(x) >= 0.1 or x == 0:
        return f"${x:,.2f}"
    return f"${x:.3g}"


def _verdict(
    inp: Inputs,
    e_out: float,
    a_out: float,
    saving_unit: float,
    breakeven: float | None,
    capacity: float,
    r: float,
    monthly: Monthly | None,
    payback: float | None,
) -> str:
    api = inp.api.name
    hours = inp.hours_per_day.value or 0.0
    cap_total = capacity * (1 + r)
    if saving_unit <= 0:
        return (
            f"{api} is cheaper: local electricity alone costs {usd(e_out)} per million output "
            f"tokens, the API {usd(a_out)}; local never pays off at this power and price."
        )
    if inp.hardware_price.value is None:
        return (
            f"Local electricity is cheaper than {api} per token; give --hardware-price (0 if "
            "you own the machine already) to see whether the machine pays off."
        )
    if inp.hardware_price.value == 0:
        return f"Local is cheaper than {api} from the first token: the hardware is already paid."
    assert breakeven is not None
    if breakeven > cap_total:
        return (
            f"{api} is cheaper: local would pay off above {tokens(breakeven)} tokens/day, but "
            f"this machine serves at most {tokens(cap_total)} tokens/day in {hours:g} h."
        )
    if monthly is None:
        return (
            f"Local pays off above {tokens(breakeven)} tokens/day against {api} (at most "
            f"{tokens(cap_total)}/day in {hours:g} h); give --tokens-per-day or --spend for "
            "the payback time."
        )
    years = inp.amortize_years.value or 0.0
    usage = inp.usage.total if inp.usage else 0.0
    if not monthly.served:
        return (
            f"This machine cannot serve {tokens(usage)} tokens/day in {hours:g} h "
            f"(needs {monthly.busy_hours_per_day:.1f} h); it breaks even with {api} above "
            f"{tokens(breakeven)} tokens/day."
        )
    assert payback is not None
    assert monthly.local_usd is not None
    if usage < breakeven:
        return (
            f"{api} is cheaper at {tokens(usage)} tokens/day ({usd(monthly.api_usd)}/month vs "
            f"{usd(monthly.local_usd)} local); local pays off above {tokens(breakeven)} "
            f"tokens/day (payback now: {payback:.0f} months)."
        )
    within = "within" if payback <= years * 12 else "but only after"
    return (
        f"Local pays off: at {tokens(usage)} tokens/day it saves "
        f"{usd(monthly.api_usd - monthly.local_usd)}/month over {api} and repays its "
        f"{usd(inp.hardware_price.value)} in {payback:.1f} months ({within} the "
        f"{years:g}-year amortisation)."
    )


SCHEMA = "llmbox.cost/1"


def as_dict(res: CostResult, *, label: str = "", chip: str | None = None) -> dict[str, Any]:
    """The ``llmbox.cost/1`` JSON object (documented in docs/cost.md)."""
    inp, s, r = res.inputs, res.inputs.speed, _round
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "local": {
            "label": label,
            "chip": chip,
            "joules_per_token": r(res.joules_per_output_token, 4),
            "joules_per_input_token": r(res.joules_per_input_token, 4),
            "energy_usd_per_mtok_output": r(res.energy_usd_per_mtok_output),
            "energy_usd_per_mtok_input": r(res.energy_usd_per_mtok_input),
            "usd_per_mtok_output": r(res.usd_per_mtok_output),
            "usd_per_mtok_input": r(res.usd_per_mtok_input),
            "output_tps": r(s.output_tps, 3),
            "input_tps": r(s.input_tps, 3),
            "concurrency": s.concurrency,
            "capacity_tokens_per_day": r(res.capacity_output_per_day * (1 + input_ratio(inp)), 0),
        },
        "api": {
            "name": inp.api.name,
            "provider": inp.api.provider,
            "model": inp.api.model,
            "usd_per_mtok_input": r(res.api_usd_per_mtok_input),
            "usd_per_mtok_cached_input": inp.api.cached_input,
            "usd_per_mtok_output": inp.api.output,
            "price_date": inp.api.date.isoformat() if inp.api.date else None,
            "price_source": inp.api.source,
        },
        "breakeven_tokens_per_day": r(res.breakeven_tokens_per_day, 0),
        "payback_months": r(res.payback_months, 2),
        "verdict": res.verdict,
    }
    if res.per_answer is not None:
        a = res.per_answer
        out["per_answer"] = {
            "input_tokens": r(a.input_tokens, 1),
            "output_tokens": r(a.output_tokens, 1),
            "thinking_tokens": r(a.thinking_tokens, 1),
            "thinking_share": r(s.thinking_share, 4),
            "local_usd": r(a.local_usd, 8),
            "local_energy_usd": r(a.local_energy_usd, 8),
            "local_thinking_usd": r(a.local_thinking_usd, 8),
            "api_usd": r(a.api_usd, 8),
            "api_thinking_usd": r(a.api_thinking_usd, 8),
        }
    if res.monthly is not None:
        m = res.monthly
        out["monthly"] = {
            "local_usd": r(m.local_usd, 2),
            "local_energy_usd": r(m.local_energy_usd, 2),
            "local_hardware_usd": r(m.local_hardware_usd, 2),
            "api_usd": r(m.api_usd, 2),
            "api_thinking_usd": r(m.api_thinking_usd, 2),
            "busy_hours_per_day": r(m.busy_hours_per_day, 2),
            "served": m.served,
        }
    usage = inp.usage
    out["inputs"] = {
        "output_tps": {"value": r(s.output_tps, 3), "source": s.origin, "detail": s.detail},
        "input_tps": {"value": r(s.input_tps, 3), "source": s.origin, "detail": s.detail},
        "watts": inp.watts.to_dict(),
        "kwh_price": inp.kwh_price.to_dict(),
        "hardware_price": inp.hardware_price.to_dict(),
        "amortize_years": inp.amortize_years.to_dict(),
        "hours_per_day": inp.hours_per_day.to_dict(),
        "api_price": {"value": inp.api.name, "source": inp.api.origin},
        "cached_share": inp.cached_share,
        "tokens_per_day": None
        if usage is None
        else {
            "input": r(usage.input_per_day, 0),
            "output": r(usage.output_per_day, 0),
            "source": usage.origin,
            "detail": usage.detail,
        },
    }
    out["notes"] = list(res.notes)
    return out
