"""Running one piece of work per host, at most ``limit`` at a time, each under its own client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from llmbox.errors import LlmboxError, NoAnswer, ServerUnreachable, WrongServer
from llmbox.fleet._inventory import Host

if TYPE_CHECKING:
    import httpx

    from llmbox.client import OllamaClient

T = TypeVar("T")


async def each_host(
    hosts: Sequence[Host], work: Callable[[Host], Awaitable[T]], *, limit: int
) -> list[T]:
    """``work(host)`` for every host, at most ``limit`` (0: no limit) running at once; results in
    the hosts' order. ``work`` reports a host's failure in its result: one host never stops the
    others."""
    gate = asyncio.Semaphore(limit if limit > 0 else max(1, len(hosts)))

    async def one(host: Host) -> T:
        async with gate:
            return await work(host)

    return list(await asyncio.gather(*(one(h) for h in hosts)))


def error_text(err: LlmboxError) -> str:
    """A host's error in a fleet's words: the cause (refused, a web page, silence, a name that
    does not resolve), without the single-host advice about OLLAMA_HOST and --host."""
    if type(err) is ServerUnreachable and err.message.startswith("Cannot reach"):
        return f"nothing answers at {err.host}"
    return err.message


def unreachable_fix(err: ServerUnreachable, url: str) -> str:
    """What to do about a host of the inventory that could not be asked."""
    if isinstance(err, WrongServer):
        return f"is the inventory's URL the Ollama port? check with: curl {url}/api/version"
    if isinstance(err, NoAnswer):
        return "is the host overloaded or hung, is the URL the Ollama port? (--timeout: the limit)"
    return "is `ollama serve` running there, and is the inventory's URL right?"


def client_for(
    host: Host, *, timeout: float | None, transport: httpx.AsyncBaseTransport | None = None
) -> OllamaClient:
    """The host's client: a few connections (a status asks, a sync pulls one model at a time)."""
    from llmbox.client import OllamaClient

    return OllamaClient(host=host.url, timeout=timeout, transport=transport, max_connections=4)
