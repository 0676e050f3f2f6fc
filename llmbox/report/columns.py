"""Plain tables that fit a narrow terminal by leaving columns out, least important first.

A listing such as ``llmbox history`` has one row a run; wrapping its cells would make one run
several lines and break ``grep``. So a table wider than ``COLUMNS`` (or the terminal) first drops
the columns its caller names as expendable, then shortens the cells of the columns it names as
squeezable (with ``…``). Without a width limit (stdout is a pipe or a file) nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from llmbox.report.output import table_width

#: A squeezed column keeps at least this many characters (and its header's).
MIN_SQUEEZED = 6


@dataclass
class Fitted:
    """The table's text, and the columns with data that were left out to fit it."""

    text: str
    dropped: list[str] = field(default_factory=list)


def _width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    return sum(widths) + 2 * (len(widths) - 1)


def cut(cell: str, width: int) -> str:
    """``cell`` cut to ``width`` characters, the last an ellipsis."""
    return cell if len(cell) <= width else cell[: width - 1] + "…"


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[str] = (),
    drop: Sequence[str] = (),
    squeeze: Sequence[str] = (),
    width: int | None = None,
) -> Fitted:
    """``plain_table`` of ``rows``, at most ``width`` (default ``table_width()``) wide if it can be.

    Columns in ``drop`` go first (those empty in every row before the rest, then in the given
    order); then the ``squeeze`` columns are cut to share what is left.

    >>> t = fit_table(["id", "model", "tags"], [["1", "llama3.2:latest", "ci=1"]],
    ...               right=["id"], drop=["tags"], squeeze=["model"], width=14)
    >>> print(t.text, end=""); t.dropped
    id  model
    --  ----------
     1  llama3.2:…
    ['tags']
    """
    from llmbox.bench._text import plain_table

    limit = table_width() if width is None else width
    cols = list(headers)
    table = [list(r) for r in rows]
    dropped: list[str] = []
    if limit is not None:
        empty = [c for c in drop if all(not r[cols.index(c)] for r in table)]
        order = empty + [c for c in drop if c not in empty]
        for name in order:
            if _width(cols, table) <= limit:
                break
            i = cols.index(name)
            del cols[i]
            for r in table:
                del r[i]
            if name not in empty:
                dropped.append(name)
        excess = _width(cols, table) - limit
        for name in squeeze:
            if excess <= 0:
                break
            i = cols.index(name)
            natural = max([len(cols[i]), *(len(r[i]) for r in table)])
            keep = min(natural, max(natural - excess, MIN_SQUEEZED, len(cols[i])))
            for r in table:
                r[i] = cut(r[i], keep)
            excess -= natural - keep
    text = plain_table(cols, table, right=[i for i, c in enumerate(cols) if c in right])
    return Fitted(text, dropped)
