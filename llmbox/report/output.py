"""Where llmbox writes: data to stdout; progress, notes, warnings and errors to stderr.

The rules, one place for all commands (README "For CI scripts" and docs/exit-codes.md say the same):

- **Colour** only when the stream is a terminal (and ``TERM`` is not ``dumb``). ``NO_COLOR`` (any
  non-empty value, https://no-color.org) turns colour off everywhere; ``FORCE_COLOR`` turns it on
  when the stream is not a terminal. ``NO_COLOR`` wins when both are set.
- **Progress bars** (animated, redrawn in place) only when stderr is a terminal that can redraw
  (``TERM`` not ``dumb``). Otherwise progress is a few plain lines, fit for a CI log. ``NO_COLOR``
  keeps the bars, without colour: it is about colour, not animation.
- ``--quiet`` silences everything on stderr but errors; data on stdout is never silenced.
- **Table width**: ``COLUMNS`` when set, else the terminal's width when stdout is a terminal, else
  unlimited (one line per row, for ``grep`` and CI logs).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _dumb() -> bool:
    return os.environ.get("TERM") == "dumb"


def color_enabled(stream: TextIO) -> bool:
    """ANSI colour on ``stream``? See the module docstring for the rules."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_tty(stream) and not _dumb()


def animation_enabled(stream: TextIO) -> bool:
    """Can ``stream`` show bars redrawn in place (a terminal that is not ``TERM=dumb``)?"""
    return is_tty(stream) and not _dumb()


def table_width(stream: TextIO | None = None) -> int | None:
    """Columns a table may use on ``stream`` (stdout by default); None means no limit."""
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    stream = sys.stdout if stream is None else stream
    if is_tty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except (OSError, ValueError, AttributeError):
            return None
    return None


def paint(text: str, code: str, stream: TextIO) -> str:
    """``text`` in SGR colour ``code`` when ``stream`` takes colour, else unchanged."""
    return f"\x1b[{code}m{text}\x1b[0m" if color_enabled(stream) else text


def stdout_failed(err: OSError) -> Exception:
    """The error for a write to stdout that failed other than by a closed pipe: a full disk
    behind ``> file``, a terminal gone."""
    from llmbox.errors import LlmboxError

    return LlmboxError(
        f"cannot write the output: {err.strerror or err}",
        hint="check where stdout goes (a full disk?)",
    )


def reader_gone(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null after its reader closed the pipe (``| head``),
    so later writes and the flush at exit are lost quietly instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def write_lines(stream: TextIO, text: str) -> None:
    """Write ``text`` (whole lines) to a progress/error stream and flush it. A reader that has gone
    (``2>&1 | head -1``) only loses the lines: the command goes on and keeps its exit code."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        reader_gone(stream)


def print_error(message: str, hint: str | None = None) -> None:
    err = sys.stderr
    text = f"{paint('Error:', '1;31', err)} {message}\n"
    if hint:
        text += f"{paint('Hint:', '33', err)} {hint}\n"
    write_lines(err, text)


@dataclass
class Output:
    """The CLI's writer. ``quiet`` silences everything but data (and errors)."""

    quiet: bool = False

    @property
    def progress_enabled(self) -> bool:
        """Draw bars on stderr? Not with ``--quiet``, and only on a terminal that can redraw."""
        return not self.quiet and animation_enabled(sys.stderr)

    def progress_console(self) -> Console:
        """A rich Console on stderr for bars, coloured only as ``color_enabled`` allows."""
        from rich.console import Console

        colour = color_enabled(sys.stderr)
        return Console(
            file=sys.stderr,
            force_terminal=True,
            no_color=not colour,
            color_system="auto" if colour else None,
            highlight=False,
        )

    def info(self, message: str) -> None:
        if not self.quiet:
            write_lines(sys.stderr, message + "\n")

    def warn(self, message: str) -> None:
        if not self.quiet:
            write_lines(sys.stderr, f"{paint('Warning:', '33', sys.stderr)} {message}\n")

    def data(self, text: str) -> None:
        try:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # `| head -1` has read enough: the command goes on, quietly
            reader_gone(sys.stdout)
        except OSError as err:
            raise stdout_failed(err) from None

    def json(self, obj: Any) -> None:
        self.data(json.dumps(obj, indent=2, ensure_ascii=False))
