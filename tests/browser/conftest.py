"""Headless Chromium for the report's browser tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download cannot work offline, so it drives the system browser through
its executable path. Without chromium or Playwright every browser test is skipped with the
reason, and the end of the test run says so in one line.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Where Debian's package puts it; then whatever is on PATH.
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
#: Root in a container needs --no-sandbox; the rest keep Chromium from talking to the network.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
_skipped: list[str] = []


def chromium_path() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'llmbox[browser]', or make install)"
    if chromium_path() is None:
        return "no Chromium found (apt-get install -y chromium; .ci/run does it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module. Playwright's sync API keeps an event loop running
    in this thread while it is open, so code under test that calls ``asyncio.run`` must run in
    another process meanwhile; closing it at the end of the module frees the thread again."""
    reason = why_no_browser()
    if reason is not None:
        _skipped.append(reason)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"NOTE: the report's browser tests were skipped: {_skipped[0]}", yellow=True, bold=True
        )


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
