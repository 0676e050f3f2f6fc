"""Shared fixtures: every test runs with a clean environment and its own config/data dirs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a shell without job control (``make test &``,
    ``nohup``) inherits an ignored Ctrl-C, and so would every llmbox the tests start: the tests
    that stop one with SIGINT would see it run on. Catching SIGINT here gives the children the
    default again (a caught signal is reset at exec; an ignored one stays ignored)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_ISOLATED_PREFIXES = ("OLLAMA_", "LLMBOX_", "OPENAI_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No OLLAMA_*/LLMBOX_* leaks in from the developer's shell; config and data go to tmp."""
    for key in list(os.environ):
        if key.startswith(_ISOLATED_PREFIXES) or key in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path
