"""``llmbox report``: benchmark results as an offline HTML page of charts, images or Markdown."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from llmbox.cli._common import QuietOpt


class PageFormat(str, Enum):
    html = "html"
    md = "md"


def _need_extra() -> None:
    from llmbox.errors import UsageError

    try:
        import altair  # noqa: F401
        import vl_convert  # noqa: F401
    except ImportError as err:
        raise UsageError(
            f"llmbox report needs the chart libraries ({err.name} is missing)",
            hint="pip install 'llmbox[report]'",
        ) from None


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def report(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Saved `llmbox bench -f json` files, or directories of them.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file. Default: stdout (HTML only when redirected).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        PageFormat,
        typer.Option("--format", "-f", help="html: one offline page; md: a pull-request comment."),
    ] = PageFormat.html,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png", help="Also render each chart to DIR/<chart>.png.", show_default=False
        ),
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option(
            "--svg", help="Also render each chart to DIR/<chart>.svg.", show_default=False
        ),
    ] = None,
    chip: Annotated[
        str | None,
        typer.Option(
            "--chip",
            help="Chip to hold results against (as in hw-estimate). Default: each run's machine.",
            show_default=False,
        ),
    ] = None,
    title: Annotated[
        str, typer.Option("--title", help="Title of the page.")
    ] = "llmbox benchmark report",
    quiet: QuietOpt = False,
) -> None:
    """Charts of benchmark results: one offline HTML page, PNG/SVG images, or Markdown.

    Example: llmbox report a.json b.json -o report.html --png charts/
    """
    import os
    import sys

    from llmbox.cli._output import Output
    from llmbox.errors import UsageError

    out = Output(quiet=quiet)
    if not files:
        raise UsageError(
            "which results?", hint="give saved runs: llmbox report run1.json run2.json -o r.html"
        )
    if output is None and format is PageFormat.html and sys.stdout.isatty():
        raise UsageError("an HTML page does not belong on a terminal", hint="add -o report.html")
    _need_extra()
    from llmbox.hw.chips import load_catalog
    from llmbox.hw.models import load_models
    from llmbox.report.charts import build
    from llmbox.report.inputs import load_files
    from llmbox.report.static import render_markdown, save_text, write_images

    reports = load_files(files)
    doc = build(reports, load_catalog(), load_models(), chip=chip)
    if not doc.charts:
        out.warn("no chart has data: " + "; ".join(h for _, h in doc.missing[:1]))
    images: dict[str, str] = {}
    for directory, kind in ((svg, "svg"), (png, "png")):
        if directory is not None:
            paths = write_images(doc.charts, directory, kind)
            out.info(f"wrote {len(paths)} {kind.upper()} image(s) to {directory}/")
            base = output.parent if output is not None else Path()
            images = {p.stem: Path(os.path.relpath(p, base)).as_posix() for p in paths}
    if format is PageFormat.md:
        text = render_markdown(doc, images)
    else:
        from llmbox.report.html import js_bundle, render_html

        text = render_html(doc, js_bundle(), title=title)
    if output is None:
        out.data(text)
        return
    save_text(output, text)
    what = f"{len(doc.charts)} chart(s), {_size(len(text.encode()))}"
    out.info(f"wrote {output} ({what})")
    if format is PageFormat.html:
        out.info(f"open it: {output.resolve().as_uri()}")
