"""Human-readable rendering with rich. Returns strings; the CLI decides where they go."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmbox.cli._output import color_enabled

if TYPE_CHECKING:
    from llmbox.doctor import DoctorReport


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    right_align: Sequence[str] = (),
) -> str:
    """A plain table (colour only when stdout is a terminal)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right" if name in right_align else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    colour = color_enabled(sys.stdout)
    console = Console(
        file=buffer,
        width=max(200, len(columns) * 24),
        color_system="standard" if colour else None,
        force_terminal=colour,
        no_color=not colour,
        highlight=False,
        soft_wrap=True,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n") + "\n"


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
        lines.append(
            f"models     {len(report.models)} installed"
            + (
                f": {', '.join(report.models[:8])}" + (" …" if len(report.models) > 8 else "")
                if report.models
                else ""
            )
        )
        if report.loaded:
            for m in report.loaded:
                lines.append(
                    f"loaded     {m.name}  {human_bytes(m.size)}  {m.processor}"
                    + (f"  ctx {m.context_length}" if m.context_length else "")
                )
        else:
            lines.append("loaded     none")
    for key, value in report.env.items():
        lines.append(f"env        {key}={value}")
    if report.problems:
        lines.append("")
        for p in report.problems:
            lines.append(f"problem    {p.what}")
            lines.append(f"  fix      {p.advice}")
    else:
        lines.append("healthy    yes")
    return "\n".join(lines) + "\n"
