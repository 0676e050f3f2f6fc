"""pytest fixtures for the fake Ollama server (one per session, reset before each test) and the
hostile servers of ``tests.fakes.hostile``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.hostile import (  # noqa: F401  (fixtures: servers that are not Ollama)
    html_server,
    not_found_server,
    not_http_server,
    silent_server,
    wrong_json_server,
)
from tests.fakes.ollama import FakeOllama


@pytest.fixture(scope="session")
def _fake_ollama_server() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def fake_ollama(_fake_ollama_server: FakeOllama) -> FakeOllama:
    """A running fake Ollama at ``fake_ollama.url`` in its default state (see ``reset``)."""
    _fake_ollama_server.reset()
    return _fake_ollama_server
