"""Running the async core from synchronous code, with SIGTERM handled like Ctrl-C.

CI runners stop a job with SIGTERM. Python's default would kill the process on the spot, losing
whatever the command had not saved; instead the running task is cancelled, so the code under it
unwinds (a benchmark saves its report as interrupted) and ``Terminated`` (exit 143) is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar, cast

from llmbox.errors import Terminated

T = TypeVar("T")


def run_main(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``; SIGTERM cancels it and raises Terminated (Ctrl-C stays a
    KeyboardInterrupt)."""
    terminated = False

    async def main() -> T:
        nonlocal terminated
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_term() -> None:
            nonlocal terminated
            terminated = True
            if task is not None:
                task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_term)
            installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            installed = False
        try:
            return await coro
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGTERM)

    try:
        return _loop_runner()(main())
    except asyncio.CancelledError:
        if terminated:
            raise Terminated("terminated by SIGTERM") from None
        raise


def _loop_runner() -> Callable[[Coroutine[Any, Any, T]], T]:
    """uvloop's ``run`` when installed (``llmbox[fast]``) and not turned off with
    ``LLMBOX_LOOP=asyncio``; the standard loop otherwise."""
    if os.environ.get("LLMBOX_LOOP", "").lower() != "asyncio":
        import importlib

        try:
            uvloop = importlib.import_module("uvloop")  # optional: not a type-checked dependency
        except ImportError:
            pass
        else:
            return cast("Callable[[Coroutine[Any, Any, T]], T]", uvloop.run)
    return asyncio.run


@contextlib.contextmanager
def sigterm_raises(
    error: Callable[[], BaseException] = lambda: Terminated("terminated by SIGTERM"),
) -> Iterator[None]:
    """For synchronous commands (``history import``, ``report``): SIGTERM raises ``Terminated``
    (or ``error()``) where the code is, so open transactions roll back, temp files are removed
    and the command says what it had done, as for Ctrl-C. Outside the main thread it does
    nothing."""

    def on_term(signum: int, frame: object) -> None:
        raise error()

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
