"""Shared fixtures: every test runs with a clean environment and its own config/data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.fixtures"]

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
