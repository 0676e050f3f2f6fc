"""Build a backend from CLI-level settings."""

from __future__ import annotations

from llmbox.backends.base import Backend
from llmbox.errors import UsageError

BACKENDS = ("ollama", "openai", "embedded")
OPENAI_DEFAULT_HOST = "http://127.0.0.1:8080"


def openai_base(host: str | None) -> str:
    """The server root for ``--host``; bare ``host[:port]`` defaults to llama-server's port 8080.

    OLLAMA_HOST is deliberately not consulted: it names an Ollama server, not this one.

    >>> openai_base(None), openai_base("10.0.0.2"), openai_base("https://api.example.com/v1")
    ('http://127.0.0.1:8080', 'http://10.0.0.2:8080', 'https://api.example.com/v1')
    """
    if not host:
        return OPENAI_DEFAULT_HOST
    if "://" in host:
        return host.rstrip("/")
    hostport, _, path = host.partition("/")
    if ":" not in hostport.rsplit("]", 1)[-1]:
        hostport += ":8080"
    return f"http://{hostport}" + (f"/{path}" if path else "")


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
    verbose: bool = False,
) -> Backend:
    """The backend for ``--backend KIND``; imports only what that backend needs."""
    if kind == "ollama":
        from llmbox.backends.ollama import OllamaBackend
        from llmbox.client import OllamaClient
        from llmbox.config import resolve_settings

        settings = resolve_settings(host=host, timeout=timeout)
        client = OllamaClient(
            host=settings.host, timeout=settings.timeout, max_connections=max_connections
        )
        return OllamaBackend(client)
    if kind == "openai":
        import os

        from llmbox.backends.openai import OpenAIBackend
        from llmbox.client._openai import OpenAIClient

        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        openai_client = OpenAIClient(
            base_url=openai_base(host),
            api_key=key,
            timeout=timeout,
            max_connections=max_connections,
        )
        return OpenAIBackend(openai_client)
    if kind == "embedded":
        from llmbox.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(
            threads=threads, ctx_per_slot=ctx_size, parallel=parallel or 1, verbose=verbose
        )
    raise UsageError(f"unknown backend {kind!r}", hint=f"use one of: {', '.join(BACKENDS)}")
