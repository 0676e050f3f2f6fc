"""Human-readable rendering with rich. Returns strings; the CLI decides where they go."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmbox.report.output import color_enabled, table_width

#: Console width standing for "no limit" (rich needs a number).
_UNLIMITED = 100_000

if TYPE_CHECKING:
    from llmbox.doctor import DoctorReport


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    right_align: Sequence[str] = (),
    width: int | None = None,
) -> str:
    """A plain table (colour only when stdout takes colour), at most ``width`` columns wide.

    ``width`` defaults to ``table_width()`` (``COLUMNS``, else the terminal's width, else no
    limit). A table too wide for it first wraps its cells at spaces (never inside a word or a
    number); if even that cannot fit, each row is printed as a block of ``column  value`` lines.
    With no limit each row is one line.
    """
    from rich.cells import cell_len

    limit = table_width() if width is None else width
    cells = [[str(c) for c in row] for row in rows]
    natural = [
        max([cell_len(name), *(cell_len(r[i]) for r in cells)]) for i, name in enumerate(columns)
    ]
    if limit is None or _table_width(natural, compact=False) <= limit:
        return _rich_table(columns, cells, natural, title, right_align, limit, compact=False)
    smallest = [
        max(_longest_word(name), *(_longest_word(r[i]) for r in cells))
        for i, name in enumerate(columns)
    ]
    widths = _shrink(natural, smallest, limit - _table_width([0] * len(columns), compact=True))
    if widths is None:
        return _records(columns, cells, title, limit)
    return _rich_table(columns, cells, widths, title, right_align, limit, compact=True)


def _table_width(widths: Sequence[int], *, compact: bool) -> int:
    """Width rich needs for a table with these column widths (``box.SIMPLE_HEAD``,
    ``pad_edge=False``): an edge column at each side and three spaces between columns; compact,
    no edges and two spaces between columns."""
    if not widths:
        return 0
    return sum(widths) + 2 * (len(widths) - 1) if compact else sum(widths) + 3 * len(widths) - 1


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def _shrink(natural: Sequence[int], smallest: Sequence[int], budget: int) -> list[int] | None:
    """Column widths summing to at most ``budget``: take one column off the widest column that
    can still give, until it fits. None when even the smallest widths do not fit.

    >>> _shrink([10, 4, 20], [5, 4, 6], 24)
    [10, 4, 10]
    >>> _shrink([10, 4], [8, 4], 11) is None
    True
    """
    if sum(smallest) > budget:
        return None
    widths = list(natural)
    excess = sum(widths) - budget
    while excess > 0:
        i = max((i for i in range(len(widths)) if widths[i] > smallest[i]), key=lambda j: widths[j])
        widths[i] -= 1
        excess -= 1
    return widths


def _rich_table(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    widths: Sequence[int],
    title: str | None,
    right_align: Sequence[str],
    limit: int | None,
    *,
    compact: bool,
) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        show_edge=not compact,
        padding=(0, 1, 0, 0) if compact else (0, 1),
    )
    for name, w in zip(columns, widths, strict=True):
        table.add_column(Text(name), justify="right" if name in right_align else "left", width=w)
    for row in cells:
        table.add_row(*(Text(c) for c in row))  # plain text: brackets are not rich markup
    buffer = io.StringIO()
    colour = color_enabled(sys.stdout)
    console = Console(
        file=buffer,
        width=limit or _UNLIMITED,
        color_system="standard" if colour else None,
        force_terminal=colour,
        no_color=not colour,
        highlight=False,
        soft_wrap=False,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n") + "\n"


def _records(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    title: str | None,
    width: int | None = None,
) -> str:
    """The expanded layout (``psql``'s ``\\x``) for a table that cannot fit: one block per row.

    A value too long for ``width`` wraps at spaces, under itself.

    >>> print(_records(["model", "decode t/s"], [["a", "1.0"], ["b", "2.0"]], None), end="")
    model       a
    decode t/s  1.0
    <BLANKLINE>
    model       b
    decode t/s  2.0
    """
    import textwrap

    from rich.cells import cell_len

    label = max(cell_len(c) for c in columns) if columns else 0
    room = max(20, width - label - 2) if width else None

    def line(name: str, value: str) -> str:
        head = f"{name}{' ' * (label - cell_len(name))}  "
        if room is None or cell_len(value) <= room:
            return (head + value).rstrip() + "\n"
        wrapped = textwrap.wrap(value, room, break_long_words=False, break_on_hyphens=False)
        return head + ("\n" + " " * len(head)).join(wrapped) + "\n"

    blocks = ["".join(line(n, v) for n, v in zip(columns, row, strict=True)) for row in cells]
    head = f"{title}\n\n" if title else ""
    return head + "\n".join(blocks)


def human_bytes(n: float) -> str:
    """Sizes the way ``ollama list`` shows them (decimal units).

    >>> human_bytes(2019393189)
    '2.0 GB'
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def render_doctor(report: DoctorReport) -> str:
    lines = [f"server     {report.host}"]
    if not report.reachable:
        lines.append("status     unreachable")
    else:
        lines.append(f"status     ok, Ollama {report.version}")
        models = f"{len(report.models)} installed" + (
            f": {', '.join(report.models[:8])}" + (" …" if len(report.models) > 8 else "")
            if report.models
            else ""
        )
        lines.append(_wrap_field("models", models))
        if report.loaded:
            for m in report.loaded:
                ctx = f"  ctx {m.context_length}" if m.context_length else ""
                lines.append(
                    _wrap_field("loaded", f"{m.name}  {human_bytes(m.size)}  {m.processor}{ctx}")
                )
        else:
            lines.append("loaded     none")
    for key, value in report.env.items():
        lines.append(_wrap_field("env", f"{key}={value}"))
    if report.problems:
        lines.append("")
        for p in report.problems:
            lines.append(_wrap_field("problem", p.what))
            lines.append(_wrap_field("  fix", p.advice))
    else:
        lines.append("healthy    yes")
    return "\n".join(lines) + "\n"


def _wrap_field(name: str, value: str) -> str:
    """``name       value``, the value wrapped under itself to ``table_width()``."""
    import textwrap

    head = f"{name:<11}"
    limit = table_width()
    if limit is None or len(head) + len(value) <= limit:
        return head + value
    return textwrap.fill(
        value,
        width=max(limit, len(head) + 20),
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,
        break_on_hyphens=False,
    )
