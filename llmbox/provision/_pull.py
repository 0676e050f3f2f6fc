"""Pulling models: progress as events, retries with backoff on a broken connection, one result each.

The core draws nothing: it calls ``on_event`` with the events below and returns ``PullResult``.
Ollama resumes a partial download, so a retry continues where the dropped connection left off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbox.client import OllamaClient
from llmbox.errors import (
    ExitCode,
    LlmboxError,
    ServerError,
    ServerUnreachable,
    StreamError,
)
from llmbox.names import check_name, same_model, unique_names

#: How often a broken pull is retried, and the first backoff delay (doubled on each retry).
DEFAULT_RETRIES = 3
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class PullStarted:
    """A model's pull begins (``attempt`` 1) or begins again after a retry."""

    model: str
    attempt: int


@dataclass(frozen=True)
class PullStatus:
    """A status line without bytes (``pulling manifest``, ``writing manifest``, ``success``)."""

    model: str
    status: str


@dataclass(frozen=True)
class LayerProgress:
    """Bytes of one layer (``digest`` is ``sha256:<64 hex>``); ``total`` is 0 until known."""

    model: str
    digest: str
    total: int
    completed: int

    @property
    def short_digest(self) -> str:
        """The 12 hex digits Ollama prints (``pulling dde5aa3fc5ff``)."""
        return self.digest.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class PullRetry:
    """The pull broke off with ``error``; the next attempt starts after ``delay_s``."""

    model: str
    attempt: int
    retries: int
    delay_s: float
    error: str


@dataclass
class PullResult:
    """What became of one model. ``digest`` and ``size`` come from ``/api/tags`` after success."""

    model: str
    ok: bool
    seconds: float
    digest: str = ""
    size: int = 0
    attempts: int = 1
    error: LlmboxError | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return "success" if self.ok else "failed"

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK) if self.error is None else int(self.error.exit_code)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "ok": self.ok,
            "status": self.status,
            "digest": self.digest,
            "size": self.size,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
        }
        if self.error is not None:
            data["error"] = self.error.message
            data["exit_code"] = self.exit_code
        return data


@dataclass(frozen=True)
class PullFinished:
    result: PullResult


PullEvent = PullStarted | PullStatus | LayerProgress | PullRetry | PullFinished
EventSink = Callable[[PullEvent], None]
Sleep = Callable[[float], Awaitable[None]]


def _ignore(event: PullEvent) -> None:
    return None


async def backoff_sleep(seconds: float) -> None:
    """The default wait between retries (tests replace it, so no test sleeps real time)."""
    await asyncio.sleep(seconds)


def backoff_delay(
    retry: int, base_s: float = BACKOFF_BASE_S, max_s: float = BACKOFF_MAX_S
) -> float:
    """Seconds to wait before retry number ``retry`` (1-based): base, 2×base, 4×base, … capped.

    >>> [backoff_delay(n) for n in (1, 2, 3, 10)]
    [1.0, 2.0, 4.0, 30.0]
    """
    return float(min(max_s, base_s * 2 ** (retry - 1)))


def _retryable(err: LlmboxError) -> bool:
    """A broken connection or a transient server failure, not a wrong name or a bad request."""
    if isinstance(err, (StreamError, ServerUnreachable)):
        return True
    return isinstance(err, ServerError) and (err.status or 0) in (429, 500, 502, 503, 504)


async def pull_model(
    client: OllamaClient,
    model: str,
    *,
    retries: int = DEFAULT_RETRIES,
    on_event: EventSink = _ignore,
    sleep: Sleep | None = None,
    backoff_base_s: float = BACKOFF_BASE_S,
    clock: Callable[[], float] = time.monotonic,
) -> PullResult:
    """Pull ``model`` to the end; never raises an ``LlmboxError``, it returns a failed result.

    ``sleep`` waits out the backoff (default ``backoff_sleep``); ``clock`` times the pull.
    """
    sleep = sleep or backoff_sleep
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        on_event(PullStarted(model, attempt))
        try:
            async for progress in client.pull(model):
                if progress.digest:
                    on_event(
                        LayerProgress(model, progress.digest, progress.total, progress.completed)
                    )
                else:
                    on_event(PullStatus(model, progress.status))
            break
        except LlmboxError as err:
            if attempt > retries or not _retryable(err):
                result = PullResult(model, False, clock() - start, attempts=attempt, error=err)
                on_event(PullFinished(result))
                return result
            delay = backoff_delay(attempt, backoff_base_s)
            on_event(PullRetry(model, attempt, retries, delay, err.message))
            await sleep(delay)
    digest, size = "", 0
    try:
        for summary in await client.tags():
            if same_model(summary.name or summary.model, model):
                digest, size = summary.digest, summary.size
                break
    except LlmboxError:
        pass  # the pull succeeded; a missing digest in the report is not worth failing it
    result = PullResult(model, True, clock() - start, digest=digest, size=size, attempts=attempt)
    on_event(PullFinished(result))
    return result


async def pull_models(
    client: OllamaClient,
    models: Sequence[str],
    *,
    retries: int = DEFAULT_RETRIES,
    on_event: EventSink = _ignore,
    sleep: Sleep | None = None,
    backoff_base_s: float = BACKOFF_BASE_S,
    clock: Callable[[], float] = time.monotonic,
) -> list[PullResult]:
    """Pull ``models`` one after another; a failure does not stop the others.

    An unreachable server at the start raises ``ServerUnreachable``; one that stays away through
    all retries fails the remaining models without trying them.
    """
    for model in models:
        check_name(model)  # every name before the first download
    models = unique_names(models)
    await client.version()  # fail fast, and once, when nothing listens
    results: list[PullResult] = []
    for i, model in enumerate(models):
        result = await pull_model(
            client,
            model,
            retries=retries,
            on_event=on_event,
            sleep=sleep,
            backoff_base_s=backoff_base_s,
            clock=clock,
        )
        results.append(result)
        if isinstance(result.error, ServerUnreachable):  # gone for good: the rest cannot succeed
            for rest in models[i + 1 :]:
                skipped = PullResult(rest, False, 0.0, attempts=0, error=result.error)
                results.append(skipped)
                on_event(PullFinished(skipped))
            break
    return results


def combined_exit_code(results: Sequence[Any]) -> int:
    """0 when every result succeeded; the failures' shared exit code, or 1 when they differ."""
    codes = {r.exit_code for r in results if r.exit_code != ExitCode.OK}
    if not codes:
        return int(ExitCode.OK)
    return codes.pop() if len(codes) == 1 else int(ExitCode.FAILURE)
