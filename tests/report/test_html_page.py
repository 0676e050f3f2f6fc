"""The HTML page and the Markdown comment, rendered from a typed document (no browser needed)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report.charts import Document, build
from llmbox.report.html import CSP, render_html
from llmbox.report.static import render_markdown
from tests.browser.reports import EXPECTED_POINTS, MODELS, REGRESSIONS, bench_report, history, typed

BUNDLE = "/*VEGA-BUNDLE*/window.vegaEmbed=function(){};"


@pytest.fixture(scope="module")
def doc() -> Document:
    return build(history(), load_catalog(), load_models(), regressions=REGRESSIONS)


class _Page(HTMLParser):
    """Collects what a browser would fetch or run: URLs in attributes, scripts and their types."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.csp: str | None = None
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster") and value:
                self.urls.append(value)
        if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy":
            self.csp = dict(attrs).get("content")
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def test_every_chart_of_the_history_has_data(doc: Document) -> None:
    assert {c.name: c.points for c in doc.charts if c.name in EXPECTED_POINTS} == EXPECTED_POINTS
    assert {c.name for c in doc.charts} == {*EXPECTED_POINTS, "ttft", "itl"}
    assert doc.missing == []


def test_page_inlines_the_bundle_once_and_fetches_nothing(doc: Document) -> None:
    page = render_html(doc, BUNDLE)
    assert page.count("VEGA-BUNDLE") == 1
    parser = _Page()
    parser.feed(page)
    assert parser.urls == []  # no <script src>, <link href>, <img src>: nothing to fetch
    assert parser.csp == CSP
    assert "default-src 'none'" in CSP
    specs = [json.loads(text) for attrs, text in parser.scripts if "data-chart" in attrs]
    assert len(specs) == len(doc.charts)
    assert all("$schema" not in s for s in specs)


def test_each_chart_declares_how_many_marks_it_draws(doc: Document) -> None:
    page = render_html(doc, BUNDLE)
    declared = dict(re.findall(r'id="chart-([\w-]+)" data-points="(\d+)"', page))
    assert {k: int(v) for k, v in declared.items()} == {c.name: c.points for c in doc.charts}


def test_text_from_a_report_cannot_break_out_of_the_page() -> None:
    evil = "</script><script>alert(1)</script>"
    data = bench_report(models=((evil, 20.0, 100.0, "1B"), *MODELS[:1]))
    built = build([typed(data)], load_catalog(), load_models())
    page = render_html(built, BUNDLE, title="<b>mine</b>")
    parser = _Page()
    parser.feed(page)
    # Only our own scripts: the specs, the bundle and the runner.
    assert len(parser.scripts) == len(built.charts) + 2
    assert "<b>mine</b>" not in page
    assert "&lt;b&gt;mine&lt;/b&gt;" in page
    spec = next(json.loads(t) for a, t in parser.scripts if "data-chart" in a)
    assert evil in json.dumps(spec)  # the name itself survives, escaped


def test_verdicts_and_ceilings_are_on_the_page(doc: Document) -> None:
    page = render_html(doc, BUNDLE)
    assert "p (Welch)" in page
    assert "significant" in page
    assert doc.ceilings is not None
    for headline in doc.ceilings.headlines:
        assert headline.replace("'", "&#x27;") in page


def test_an_empty_report_says_so_instead_of_drawing_nothing() -> None:
    data = bench_report()
    data["results"] = []
    empty = build([typed(data)], load_catalog(), load_models())
    assert empty.charts == []
    page = render_html(empty, BUNDLE)
    assert "No chart has data" in page
    assert "llmbox bench MODEL" in page  # what to run to get the charts


def test_markdown_has_tables_and_links_each_image(doc: Document) -> None:
    images = {c.name: f"charts/{c.name}.png" for c in doc.charts}
    md = render_markdown(doc, images)
    assert md.startswith("## llmbox benchmark report")
    assert "| series | prompt tokens | metric | tok/s (mean ± sd) | n |" in md
    assert "faster than qwen3:4b" in md
    for chart in doc.charts:
        assert f"![{chart.title}](charts/{chart.name}.png)" in md
    rows = [line for line in md.splitlines() if line.startswith("|")]
    widths = {line.count(" | ") for line in rows if "---" not in line}
    assert widths  # every table row is a table row: pipes in names are escaped below


def test_markdown_escapes_pipes_in_names() -> None:
    data = bench_report(models=(("we|ird:1b", 20.0, 100.0, "1B"), *MODELS[:1]))
    md = render_markdown(build([typed(data)], load_catalog(), load_models()))
    assert "we\\|ird:1b" in md
