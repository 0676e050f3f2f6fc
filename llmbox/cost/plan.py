"""From what the user gave (flags, a report, the catalogs) to the cost model's inputs.

Precedence for each input: flag > measured (the report) > catalog > default; each input keeps
where it came from, and the JSON output says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmbox.cost import defaults
from llmbox.cost.local import CaseSpeed
from llmbox.cost.model import Given, Inputs, Speed, Usage
from llmbox.cost.prices import ApiPrice, PriceBook, parse_price
from llmbox.errors import UsageError

if TYPE_CHECKING:
    from llmbox.hw.chips import Chip

_PERIODS = {"d": 1.0, "day": 1.0, "w": 7.0, "wk": 7.0, "week": 7.0}
_PERIODS |= {"mo": 365.25 / 12, "month": 365.25 / 12, "y": 365.25, "yr": 365.25, "year": 365.25}
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}
_TOKENS_HINT = "e.g. --tokens-per-day 2M, or --tokens-per-day in=1.5M,out=500k"
_SPEND_HINT = "e.g. --spend 20/day, --spend 600/month or --spend '$140/week'"


#: Beyond these a usage is a typo, not a plan: 10 trillion tokens a day is more than the largest
#: hosted APIs serve in all; a billion dollars a day more than any API bill.
MAX_TOKENS_PER_DAY = 1e13
MAX_SPEND_PER_DAY = 1e9


@dataclass(frozen=True)
class Flags:
    """The command's options; None = not given."""

    watts: float | None = None
    kwh_price: float | None = None
    hardware_price: float | None = None
    amortize_years: float | None = None
    hours_per_day: float | None = None
    utilisation: float | None = None
    tokens_per_day: str | None = None
    spend: str | None = None
    api: str | None = None
    api_price: str | None = None
    cached_share: float | None = None


def count(text: str, flag: str, hint: str) -> float:
    """A token count: ``2M``, ``500k``, ``1.5e6``, ``2_000_000``.

    >>> count("1.5M", "--tokens-per-day", "")
    1500000.0
    """
    m = re.fullmatch(r"\s*([0-9][0-9_,]*\.?[0-9]*(?:e[+-]?[0-9]+)?)\s*([kmbg]?)\s*", text.lower())
    if not m:
        raise UsageError(f"{flag} {text!r}: not a token count", hint=hint)
    value = float(m.group(1).replace("_", "").replace(",", "")) * _SUFFIX[m.group(2)]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} {text!r}: must be more than 0", hint=hint)
    if value > MAX_TOKENS_PER_DAY:
        raise UsageError(
            f"{flag} {text!r}: more than {MAX_TOKENS_PER_DAY:.0e} tokens a day (check the unit)",
            hint=hint,
        )
    return value


def parse_tokens(text: str, ratio: float) -> Usage:
    """``2M`` (total, split at ``ratio`` input tokens per output token) or ``in=..,out=..``."""
    if "=" in text:
        parts: dict[str, float] = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            key = {"in": "in", "input": "in", "out": "out", "output": "out"}.get(key.strip(), "")
            if not key:
                raise UsageError(f"--tokens-per-day {text!r}: use in= and out=", hint=_TOKENS_HINT)
            parts[key] = count(value, "--tokens-per-day", _TOKENS_HINT)
        if "out" not in parts:
            raise UsageError(f"--tokens-per-day {text!r} has no out=", hint=_TOKENS_HINT)
        return Usage(parts.get("in", 0.0), parts["out"], "flag", "--tokens-per-day")
    total = count(text, "--tokens-per-day", _TOKENS_HINT)
    detail = f"--tokens-per-day {text}, split {ratio:.2g} input per output token"
    return Usage.split(total, ratio, "flag", detail)


def parse_spend(text: str) -> float:
    """USD per day from ``20/day``, ``$600/month``, ``140/week`` or a bare ``20`` (per day).

    >>> round(parse_spend("600/month"), 2)
    19.71
    """
    m = re.fullmatch(r"\s*\$?\s*([0-9]+\.?[0-9]*)\s*(?:/\s*([a-z]+))?\s*", text.lower())
    if not m or (m.group(2) and m.group(2) not in _PERIODS):
        raise UsageError(f"--spend {text!r}: cannot read it", hint=_SPEND_HINT)
    amount = float(m.group(1))
    if amount <= 0:
        raise UsageError(f"--spend {text!r}: must be more than 0", hint=_SPEND_HINT)
    per_day = amount / _PERIODS[m.group(2) or "day"]
    if per_day > MAX_SPEND_PER_DAY:
        raise UsageError(
            f"--spend {text!r}: more than ${MAX_SPEND_PER_DAY:,.0f} a day (check the amount)",
            hint=_SPEND_HINT,
        )
    return per_day


def spend_usage(per_day: float, api: ApiPrice, ratio: float, cached: float, text: str) -> Usage:
    """The tokens ``per_day`` USD buys at ``api``, at ``ratio`` input per output token."""
    from llmbox.cost.model import MTOK, api_input_price

    unit = (ratio * api_input_price(api, cached) + api.output) / MTOK
    out = per_day / unit
    return Usage(out * ratio, out, "derived", f"--spend {text} at {api.name}'s prices")


def _check(name: str, value: float | None, low: float, high: float, hint: str) -> None:
    if value is None:
        return
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{name} {value:g}: expected {low:g} to {high:g}", hint=hint)


def check_flags(f: Flags) -> None:
    if f.watts is not None and not (math.isfinite(f.watts) and 0 < f.watts <= 100_000):
        raise UsageError(f"--watts {f.watts:g}: expected more than 0", hint="e.g. --watts 25")
    _check("--kwh-price", f.kwh_price, 0, 100, "USD per kWh, e.g. --kwh-price 0.30")
    _check("--hardware-price", f.hardware_price, 0, 1e8, "USD; 0 if you own it, e.g. 1999")
    _check("--amortize-years", f.amortize_years, 0.01, 50, "e.g. --amortize-years 3")
    if f.amortize_years == 0:
        raise UsageError("--amortize-years must be more than 0", hint="e.g. --amortize-years 3")
    _check("--hours-per-day", f.hours_per_day, 0.01, 24, "busy hours a day, e.g. 8")
    _check("--utilisation", f.utilisation, 0.01, 1, "a share of board power, e.g. 0.7")
    _check("--cached-share", f.cached_share, 0, 1, "a share of input tokens, e.g. 0.5")
    if f.tokens_per_day and f.spend:
        raise UsageError(
            "give --tokens-per-day or --spend, not both", hint="--spend 20/day is converted"
        )
    if f.api and f.api_price:
        raise UsageError("give --api or --api-price, not both", hint="--api-price in=3,out=15")
    if not f.api and not f.api_price:
        raise UsageError(
            "which API to compare with?",
            hint="give --api NAME (`llmbox cost --list-apis`) or --api-price in=3,out=15",
        )


def api_price(f: Flags, book: PriceBook | None) -> ApiPrice:
    if f.api_price:
        return parse_price(f.api_price)
    assert f.api
    assert book is not None
    return book.resolve(f.api)


def power(f: Flags, case: CaseSpeed | None, chip: Chip | None) -> Given:
    """Watts: --watts > measured during the run > catalog board power x utilisation."""
    if f.watts is not None:
        return Given(f.watts, "flag", "--watts")
    if case is not None and case.watts is not None:
        return Given(case.watts, "measured", f"{case.power_source}, case '{case.label}'")
    if chip is not None and chip.board_power_w:
        share = f.utilisation if f.utilisation is not None else defaults.UTILISATION
        return Given(
            chip.board_power_w * share,
            "estimated",
            f"catalog board power of {chip.name} ({chip.board_power_w:g} W) x {share:.0%}",
        )
    what = f"{chip.name} has no board power in the catalog" if chip else "power was not measured"
    raise UsageError(
        f"no power figure: {what}",
        hint="give --watts (the machine's draw while generating), or measure with bench --power",
    )


def hardware(f: Flags, chip: Chip | None) -> Given:
    if f.hardware_price is not None:
        return Given(f.hardware_price, "flag", "--hardware-price")
    if chip is not None and chip.launch_price_usd:
        return Given(chip.launch_price_usd, "catalog", f"launch price of {chip.name}")
    what = f"{chip.name} has no launch price in the catalog" if chip else "no chip known"
    return Given(None, "missing", f"{what}: give --hardware-price (0 if you own it)")


def answer_ratio(speed: Speed) -> float:
    """Input tokens per output token of the measured (or estimated) answer."""
    return speed.input_per_answer / speed.output_per_answer if speed.output_per_answer else 0.0


def build(
    f: Flags,
    speed: Speed,
    *,
    case: CaseSpeed | None = None,
    chip: Chip | None = None,
    book: PriceBook | None = None,
) -> Inputs:
    """The model's inputs, each with its origin."""
    check_flags(f)
    api = api_price(f, book)
    cached = f.cached_share if f.cached_share is not None else defaults.CACHED_SHARE
    ratio = answer_ratio(speed)
    usage = None
    if f.tokens_per_day:
        usage = parse_tokens(f.tokens_per_day, ratio)
    elif f.spend:
        usage = spend_usage(parse_spend(f.spend), api, ratio, cached, f.spend)

    def given(value: float | None, default: float, detail: str = "") -> Given:
        return Given(value, "flag") if value is not None else Given(default, "default", detail)

    return Inputs(
        speed=speed,
        watts=power(f, case, chip),
        kwh_price=given(f.kwh_price, defaults.KWH_PRICE, defaults.KWH_PRICE_SOURCE),
        hardware_price=hardware(f, chip),
        amortize_years=given(f.amortize_years, defaults.AMORTIZE_YEARS),
        hours_per_day=given(f.hours_per_day, defaults.HOURS_PER_DAY),
        api=api,
        usage=usage,
        cached_share=cached,
    )
