"""The fleet view and the cost charts opened in headless Chromium: the fleet table with its
outlier highlighted, a trend line per host, energy and cost bars (measured vs estimated), and a
break-even dot where each local line crosses an API's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmbox.cost.prices import load_prices
from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report.charts import Document, build
from tests.browser.reports import FLEET_HOSTS, fleet_history, write_page
from tests.browser.test_report_browser import MARKS, Opened, open_page

APIS = ["claude-sonnet-4-6", "gpt-5.4-mini"]


@pytest.fixture(scope="module")
def document() -> Document:
    return build(fleet_history(), load_catalog(), load_models(), prices=load_prices(), apis=APIS)


@pytest.fixture(scope="module")
def opened(
    browser: Any, document: Document, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Opened]:
    yield from open_page(browser, write_page(document, tmp_path_factory, "fleet.html"))


def _chart(document: Document, name: str) -> Any:
    return next(c for c in document.charts if c.name == name)


def test_drawn_without_errors_every_chart_with_its_marks(opened: Opened) -> None:
    assert opened.errors == []
    assert opened.requests == [opened.url]
    for el in opened.page.query_selector_all(".chart"):
        assert len(el.query_selector_all(MARKS)) == int(el.get_attribute("data-points"))


def test_the_fleet_table_highlights_the_outlier(opened: Opened) -> None:
    rows = opened.page.query_selector_all("#section-fleet tbody tr")
    assert [r.query_selector("th").inner_text() for r in rows] == list(FLEET_HOSTS)
    outliers = opened.page.query_selector_all("#section-fleet td.outlier")
    assert outliers
    assert all(c.evaluate("e => e.closest('tr').querySelector('th').textContent") == "st-2"
               for c in outliers)  # fmt: skip
    colour = outliers[0].evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(253, 226, 200)"


def test_a_trend_line_per_host(opened: Opened, document: Document) -> None:
    chart = _chart(document, "fleet-trend")
    panels = len({r["case"] for r in chart.rows})
    lines = opened.page.query_selector_all("#chart-fleet-trend g.role-mark.mark-line > path")
    assert len(lines) == panels * len(FLEET_HOSTS)
    points = opened.page.query_selector_all("#chart-fleet-trend " + MARKS.split(",")[0])
    assert len(points) == len(chart.rows)


def test_cost_bars_measured_and_estimated_and_the_api_lines(
    opened: Opened, document: Document
) -> None:
    assert document.costs is not None
    rows = document.costs.rows
    bars = opened.page.query_selector_all("#chart-cost g.role-mark.mark-rect > path")
    with_hw = sum(r["hardware_usd_per_mtok"] is not None for r in rows)
    assert len(bars) == len(rows) + len(rows) + with_hw  # J/token + electricity + hardware
    labels = [b.get_attribute("aria-label") or "" for b in bars]
    assert sum("measured" in t for t in labels) >= 1
    assert sum("estimated" in t for t in labels) >= 1
    rules = opened.page.query_selector_all("#chart-cost g.role-mark.mark-rule > line")
    assert len(rules) == len(APIS)
    legend = opened.page.inner_text("#chart-cost")
    assert "estimated" in legend
    assert "measured" in legend


def test_break_even_lines_and_dots(opened: Opened, document: Document) -> None:
    assert document.costs is not None
    series = {r["series"] for r in document.costs.rows}
    lines = opened.page.query_selector_all("#chart-breakeven g.role-mark.mark-line > path")
    assert len(lines) == len(series) * (len(APIS) + 1)  # local + each API, per series
    dots = opened.page.query_selector_all("#chart-breakeven g.role-mark.mark-symbol > path")
    assert len(dots) == len(document.costs.breakeven) > 0
    table = opened.page.inner_text("#section-cost table")
    assert "break-even vs claude-sonnet-4-6" in table
