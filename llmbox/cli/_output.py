"""Where the CLI writes: data to stdout; progress, warnings and errors to stderr.

Colours and bars only when the stream is a terminal and ``NO_COLOR`` is unset.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_enabled(stream: TextIO) -> bool:
    """ANSI colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_tty(stream) and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, stream: TextIO) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color_enabled(stream) else text


def print_error(message: str, hint: str | None = None) -> None:
    err = sys.stderr
    err.write(f"{_paint('Error:', '1;31', err)} {message}\n")
    if hint:
        err.write(f"{_paint('Hint:', '33', err)} {hint}\n")
    err.flush()


@dataclass
class Output:
    """The CLI's writer. ``quiet`` silences everything but data (and errors)."""

    quiet: bool = False

    @property
    def progress_enabled(self) -> bool:
        return not self.quiet and is_tty(sys.stderr)

    def info(self, message: str) -> None:
        if not self.quiet:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def warn(self, message: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"{_paint('Warning:', '33', sys.stderr)} {message}\n")
            sys.stderr.flush()

    def data(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, obj: Any) -> None:
        self.data(json.dumps(obj, indent=2, ensure_ascii=False))
