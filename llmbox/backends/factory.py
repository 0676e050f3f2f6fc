"""Build a backend from CLI-level settings."""

from __future__ import annotations

from llmbox.backends.base import Backend
from llmbox.errors import UsageError

BACKENDS = ("ollama", "openai", "embedded")


def make_backend(
    kind: str,
    *,
    host: str | None,
    timeout: float | None,
    max_connections: int = 16,
    api_key: str | None = None,
    threads: int | None = None,
    ctx_size: int | None = None,
    parallel: int | None = None,
) -> Backend:
    if kind == "ollama":
        from llmbox.backends.ollama import OllamaBackend
        from llmbox.client import OllamaClient
        from llmbox.config import resolve_settings

        settings = resolve_settings(host=host, timeout=timeout)
        client = OllamaClient(
            host=settings.host, timeout=settings.timeout, max_connections=max_connections
        )
        return OllamaBackend(client)
    raise UsageError(
        f"backend {kind!r} is not available yet", hint=f"use one of: {', '.join(BACKENDS)}"
    )
