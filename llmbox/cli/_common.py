"""Options shared by commands, declared once, and the bridge from sync Typer to async core."""

from __future__ import annotations

from collections.abc import Coroutine
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from llmbox import defaults

T = TypeVar("T")


class DataFormat(str, Enum):
    table = "table"
    json = "json"


HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        help="Server URL or host[:port]. Default: $OLLAMA_HOST, then the config file, "
        "then 127.0.0.1:11434.",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds to wait for the server (0 = no limit). Default: "
        f"{defaults.CONNECT_TIMEOUT_S:g} s to connect, {defaults.REQUEST_TIMEOUT_S:g} s for an "
        "answer; generations, loads and pulls may take as long as they need, but fail after "
        f"{defaults.STREAM_IDLE_TIMEOUT_S:g} s without a byte. Env: LLMBOX_TIMEOUT.",
        show_default=False,
    ),
]
FormatOpt = Annotated[DataFormat, typer.Option("--format", "-f", help="Output format on stdout.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only data: no progress, notes or warnings.")
]


def debug_enabled() -> bool:
    """``llmbox --debug`` (which sets LLMBOX_DEBUG) or LLMBOX_DEBUG=1."""
    import os

    return os.environ.get("LLMBOX_DEBUG", "") not in ("", "0")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a core coroutine from a command; SIGTERM (a CI timeout, ``kill``) unwinds it like
    Ctrl-C and ends in ``Terminated`` (exit 143) instead of killing the process mid-step."""
    from llmbox.aio import run_main  # ~20 ms (asyncio): paid only by commands that need a server

    return run_main(coro)
