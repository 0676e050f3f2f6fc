"""Plain-text tables for the core's own renderers (the core does not use rich)."""

from __future__ import annotations

from collections.abc import Sequence


def plain_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell, two spaces apart, a rule under the header.

    >>> print(plain_table(["a", "bb"], [["xyz", "1"]], right=[1]), end="")
    a    bb
    ---  --
    xyz   1
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join(out).rstrip()

    lines = [line(headers), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in rows]
    return "\n".join(lines) + "\n"
