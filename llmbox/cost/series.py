"""The cost of each measured series (a model on a machine) against a few APIs, for the report.

The same path as ``llmbox cost --from-bench REPORT --model M --api NAME`` with no other flag: the
series' fastest case, power measured during it (``bench --power``) or else the catalog's board
power (labelled estimated), the catalog's launch price, the defaults for the rest. Curves of
monthly cost against tokens per day come from the same model, ``compute``, at each point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from llmbox.cost.local import CaseSpeed, best_case, report_chip
from llmbox.cost.model import CostResult, Monthly, Usage, compute
from llmbox.cost.plan import Flags, answer_ratio, build
from llmbox.cost.prices import PriceBook

if TYPE_CHECKING:
    from llmbox.hw.chips import Catalog, Chip
    from llmbox.results import BenchReport

#: Tokens a day the break-even chart spans: 10 thousand to 1 billion, 4 points a decade.
CURVE_FROM, CURVE_TO, CURVE_STEPS = 1e4, 1e9, 4


@dataclass(frozen=True)
class SeriesCost:
    """One series' cost against each API (``results`` by API name, in the order asked)."""

    series: str
    model: str
    case: CaseSpeed
    chip: Chip | None
    results: dict[str, CostResult]
    #: ``bench --power``'s own energy per generated token (joules over tokens), when measured.
    measured_joules_per_token: float | None = None

    @property
    def first(self) -> CostResult:
        return next(iter(self.results.values()))


def series_cost(
    series: str,
    report: BenchReport,
    model: str,
    catalog: Catalog,
    book: PriceBook,
    apis: Sequence[str],
    *,
    chip: str | None = None,
) -> SeriesCost:
    """The cost of ``model`` as ``report`` measured it, against each of ``apis``; UsageError
    when it cannot be priced (no successful generation; no power measured and no board power
    in the catalog), with what would fix it."""
    _, best, _ = best_case(report, model)
    the_chip = report_chip(report, catalog, chip)
    results = {
        name: compute(build(Flags(api=name), best.speed, case=best, chip=the_chip, book=book))
        for name in apis
    }
    joules = None
    for r in report.results:
        if r.model == model and r.case.label == best.label:
            joules = r.joules_per_token
    return SeriesCost(series, model, best, the_chip, results, joules)


def curve_points(
    start: float = CURVE_FROM, stop: float = CURVE_TO, per_decade: int = CURVE_STEPS
) -> list[float]:
    """Tokens a day, evenly spaced on a log scale.

    >>> curve_points(1e4, 1e6, 2)
    [10000.0, 31622.8, 100000.0, 316227.8, 1000000.0]
    """
    n = round(math.log10(stop / start) * per_decade)
    return [round(start * 10 ** (i / per_decade), 1) for i in range(n + 1)]


def monthly_at(res: CostResult, tokens_per_day: float) -> Monthly:
    """The monthly figures of ``res``'s inputs at ``tokens_per_day`` (the answer's mix)."""
    usage = Usage.split(tokens_per_day, answer_ratio(res.inputs.speed), "derived")
    monthly = compute(replace(res.inputs, usage=usage)).monthly
    assert monthly is not None
    return monthly


def check_apis(book: PriceBook, apis: Sequence[str]) -> list[str]:
    """The APIs' catalog names, each once (a typo is a UsageError naming the close ones)."""
    return list(dict.fromkeys(book.resolve(name).name for name in apis))
