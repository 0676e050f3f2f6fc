"""Three runs started within one second, opened in headless Chromium: the trend draws each of
them, at its own place in time, in the order they ran."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report.charts import build
from tests.browser.reports import MODELS, bench_report, typed, write_page
from tests.browser.test_report_browser import open_page

STAMPS = ["2026-11-30T16:25:49.010203Z", "2026-11-30T16:25:49.260000Z", "2026-11-30T16:25:49.999Z"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = []
    for seed, stamp in enumerate(STAMPS):
        data = bench_report(seed=seed, models=MODELS[:1])
        data["results"] = data["results"][:1]  # one case: one panel, one point per run
        data["started_at"] = stamp
        reports.append(typed(data))
    doc = build(reports, load_catalog(), load_models())
    return write_page(doc, tmp_path_factory, "report.html")


def test_runs_in_one_second_are_drawn_apart_in_time_order(browser: Any, page_file: Path) -> None:
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in STAMPS]
    span = (times[-1] - times[0]).total_seconds()
    expected = [(t - times[0]).total_seconds() / span for t in times]  # where on the time axis
    for opened in open_page(browser, page_file):
        assert opened.errors == []
        points = opened.page.query_selector_all("#chart-trend g.role-mark.mark-symbol > path")
        assert len(points) == len(STAMPS)
        xs = []
        for p in points:
            move = re.match(r"translate\(([-\d.]+),", p.get_attribute("transform") or "")
            assert move is not None
            xs.append(float(move.group(1)))
        xs.sort()
        assert xs[-1] > xs[0], xs  # not stacked on one second
        drawn = [(x - xs[0]) / (xs[-1] - xs[0]) for x in xs]
        assert drawn == pytest.approx(expected, abs=0.01)  # each at its millisecond
