"""The report opened from disk in headless Chromium: it draws every chart with the right number of
marks, shows values on hover, logs no error and requests nothing but its own file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report import data as d
from llmbox.report.charts import Document, build
from tests.browser.conftest import file_url
from tests.browser.reports import (
    EXPECTED_POINTS,
    REGRESSIONS,
    history,
    shared_vega_cache,
    write_page,
)
from tests.fakes.ollama import FakeModel, FakeOllama

#: The data marks of a chart: points (symbols) and bars (rects), not lines, rules or legends.
MARKS = "svg g.role-mark.mark-symbol > path, svg g.role-mark.mark-rect > path"
ALL_DRAWN = (
    "document.querySelectorAll('.chart').length > 0 && "
    "[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true' "
    "|| c.classList.contains('chart-error'))"
)


@dataclass
class Opened:
    page: Any
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def document() -> Document:
    return build(history(), load_catalog(), load_models(), regressions=REGRESSIONS)


@pytest.fixture(scope="module")
def page_file(document: Document, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_page(document, tmp_path_factory, "report.html")


def open_page(browser: Any, path: Path) -> Iterator[Opened]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    opened = Opened(page, file_url(path))
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    page.on("request", lambda r: opened.requests.append(r.url))
    # Anything but the page itself is refused (and recorded above), so a leak cannot pass.
    context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
    page.goto(opened.url)
    page.wait_for_function(ALL_DRAWN, timeout=60_000)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="module")
def opened(browser: Any, page_file: Path) -> Iterator[Opened]:
    yield from open_page(browser, page_file)


def test_no_console_error_and_no_request_but_the_file(opened: Opened) -> None:
    assert opened.errors == []
    assert opened.requests == [opened.url]
    assert opened.page.query_selector_all(".chart-error") == []


def test_every_chart_is_drawn_with_one_mark_per_data_point(
    opened: Opened, document: Document
) -> None:
    drawn = {
        el.get_attribute("id").removeprefix("chart-"): len(el.query_selector_all(MARKS))
        for el in opened.page.query_selector_all(".chart")
    }
    assert set(drawn) == {c.name for c in document.charts}
    assert {k: v for k, v in drawn.items() if k in EXPECTED_POINTS} == EXPECTED_POINTS
    items = d.entries(history())
    assert drawn["ttft"] == len(d.histogram(items, "ttft_s"))
    assert drawn["itl"] == len(d.histogram(items, "itl_mean_s"))
    regression = opened.page.query_selector_all("#chart-trend path[aria-roledescription]")
    assert regression  # marks carry ARIA descriptions too


def _hover_tooltip(opened: Opened, selector: str) -> str:
    page = opened.page
    page.mouse.move(0, 0)
    mark = page.query_selector(selector)
    assert mark is not None, selector
    mark.scroll_into_view_if_needed()
    mark.hover(force=True)
    tooltip = page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    assert tooltip is not None
    return str(tooltip.inner_text())


def test_hovering_a_point_shows_its_values(opened: Opened, document: Document) -> None:
    text = _hover_tooltip(opened, "#chart-speed-vs-prompt g.role-mark.mark-symbol > path")
    chart = next(c for c in document.charts if c.name == "speed-vs-prompt")
    shown = re.search(r"mean\s+([\d,.]+)", text)
    assert shown is not None, text
    assert shown.group(1) in {f"{r['mean']:,.1f}" for r in chart.rows}
    assert re.search(r"samples\s+\d+", text)
    assert any(series in text for series in {r["series"] for r in chart.rows})


def test_hovering_a_bar_shows_case_and_ceiling(opened: Opened) -> None:
    text = _hover_tooltip(opened, "#chart-models g.role-mark.mark-rect > path")
    assert re.search(r"case\s+pp\d+ tg\d+", text)
    text = _hover_tooltip(opened, "#chart-ceiling g.role-mark.mark-rect > path")
    assert re.search(r"% of peak\s+[\d.]+", text)


def test_the_regression_is_marked_and_explained_on_hover(opened: Opened) -> None:
    marks = opened.page.query_selector_all(
        "#chart-trend g.role-mark.mark-symbol > path[aria-label*='regression']"
    )
    assert len(marks) == 1
    text = _hover_tooltip(
        opened, "#chart-trend g.role-mark.mark-symbol > path[aria-label*='regression']"
    )
    assert re.search(r"regression %\s+[-−]23\.1", text)  # d3 writes a true minus sign
    assert "2026-01-07 10:00 UTC" in text


def test_the_page_cannot_reach_the_network(browser: Any, page_file: Path) -> None:
    for opened in open_page(browser, page_file):
        blocked = opened.page.evaluate(
            "() => fetch('http://127.0.0.1:9/leak').then(() => 'sent', () => 'blocked')"
        )
        assert blocked == "blocked"
        # The Content-Security-Policy refused it before it left the page.
        assert opened.requests == [opened.url]


def test_a_real_bench_run_opens_with_every_chart_drawn(
    browser: Any,
    fake_ollama: FakeOllama,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    fake_ollama.add(FakeModel("fast:1b", prefill_tps=4000.0, decode_tps=800.0))
    fake_ollama.add(FakeModel("slow:1b", prefill_tps=2000.0, decode_tps=400.0))
    saved, out = tmp_path / "run.json", tmp_path / "r.html"
    env = {**os.environ, "XDG_CACHE_HOME": str(shared_vega_cache(tmp_path_factory.getbasetemp()))}
    # In a child process: the bench's asyncio.run cannot share a thread with Playwright's loop.
    llmbox = [sys.executable, "-m", "llmbox"]
    subprocess.run(
        [*llmbox, "bench", "fast:1b", "slow:1b", "--host", fake_ollama.url, "-q",
         "--output", f"json:{saved}", "--runs", "2", "--warmup", "0",
         "--prompt-tokens", "32,64", "--max-tokens", "8"],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    subprocess.run([*llmbox, "report", str(saved), "-o", str(out)], check=True, env=env)
    assert json.loads(saved.read_text())["results"]
    for opened in open_page(browser, out):
        assert opened.errors == []
        assert opened.requests == [opened.url]
        names = [el.get_attribute("id") for el in opened.page.query_selector_all(".chart")]
        assert {"chart-speed-vs-prompt", "chart-models", "chart-ttft"} <= set(names)
        for el in opened.page.query_selector_all(".chart"):
            assert len(el.query_selector_all(MARKS)) == int(el.get_attribute("data-points"))
