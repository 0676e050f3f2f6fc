from __future__ import annotations

import pytest

from llmbox.results import BenchReport
from tests.report.sample import sample_report


@pytest.fixture
def report() -> BenchReport:
    return sample_report()


@pytest.fixture(autouse=True)
def _no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Golden tables must not depend on whether the test runs on a terminal."""
    monkeypatch.setenv("NO_COLOR", "1")
