"""``llmbox report``: benchmark results as an offline HTML page of charts, images or Markdown."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmbox.cli._common import QuietOpt
from llmbox.cost.defaults import REPORT_APIS

if TYPE_CHECKING:
    from llmbox.cost.prices import PriceBook
    from llmbox.report.data import Regression


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


def _need_store() -> None:
    from llmbox.errors import UsageError

    try:
        import llmbox.store  # noqa: F401
    except ImportError:
        raise UsageError(
            "which results? (this llmbox has no results store)",
            hint="give saved runs: llmbox report run1.json run2.json -o r.html",
        ) from None


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


_STORE = "Runs from the results store (without FILES)"


def _many(flag: str, about: str) -> Any:
    return typer.Option(flag, help=about, rich_help_panel=_STORE, show_default=False)


def report(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Saved `llmbox bench -f json` files, or directories of them. Default: the runs "
            "of the results store (filters below).",
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
    api: Annotated[
        list[str] | None,
        typer.Option(
            "--api",
            help="Hosted API to hold each model's cost against (repeatable; llmbox cost "
            f"--list-apis). Default: {', '.join(REPORT_APIS)}.",
            show_default=False,
        ),
    ] = None,
    title: Annotated[
        str, typer.Option("--title", help="Title of the page.")
    ] = "llmbox benchmark report",
    db: Annotated[
        str | None,
        _many("--db", "The store: sqlite:///PATH or postgresql://… Default: $LLMBOX_DB."),
    ] = None,
    model: Annotated[
        list[str] | None, _many("--model", "Only this model (repeatable; * wildcards).")
    ] = None,
    case: Annotated[list[str] | None, _many("--case", "Only this case label (repeatable).")] = None,
    machine: Annotated[
        list[str] | None, _many("--machine", "Only this machine (repeatable).")
    ] = None,
    backend: Annotated[
        list[str] | None, _many("--backend", "Only this backend (repeatable).")
    ] = None,
    tag: Annotated[
        list[str] | None, _many("--tag", "Only runs tagged KEY=VALUE, or carrying KEY.")
    ] = None,
    since: Annotated[
        str | None, _many("--since", "Only runs since a date or an age: 2026-11-01, 7d.")
    ] = None,
    until: Annotated[str | None, _many("--until", "Only runs before a date or an age.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Charts of benchmark results: one offline HTML page, PNG/SVG images, or Markdown.

    Example: llmbox report a.json b.json -o report.html --png charts/
    """
    from llmbox.aio import sigterm_raises

    with sigterm_raises():  # a CI timeout: temp files removed, one line, exit 143
        import os
        import sys

        from llmbox.errors import UsageError
        from llmbox.report.inputs import StoreQuery
        from llmbox.report.output import Output

        out = Output(quiet=quiet)
        query = StoreQuery(
            db=db,
            models=tuple(model or ()),
            cases=tuple(case or ()),
            machines=tuple(machine or ()),
            backends=tuple(backend or ()),
            tags=tuple(tag or ()),
            since=since,
            until=until,
        )
        if files and (query.filtered or db):
            raise UsageError(
                "filters choose runs from the results store, not among files",
                hint="give either FILES or filters such as --model, --since",
            )
        if output is None and format is PageFormat.html and sys.stdout.isatty():
            raise UsageError(
                "an HTML page does not belong on a terminal", hint="add -o report.html"
            )
        if output is not None:
            from llmbox.report.static import check_output

            check_output(output)  # before minutes of rendering
        _need_extra()
        from llmbox.cost.prices import load_prices
        from llmbox.cost.series import check_apis
        from llmbox.errors import LlmboxError

        try:
            prices: PriceBook | None = load_prices()
        except LlmboxError as err:
            if api:
                raise
            out.warn(f"no cost charts: {err.message}")  # the speed charts do not need prices
            prices = None
        apis = check_apis(prices, api or REPORT_APIS) if prices else []  # a typo fails now
        from llmbox.hw.chips import load_catalog
        from llmbox.hw.models import load_models
        from llmbox.report.charts import build
        from llmbox.report.inputs import load_files, load_store
        from llmbox.report.static import render_markdown, save_text, write_images

        regressions: list[Regression] = []
        if files:
            reports = load_files(files)
        else:
            _need_store()
            unread: list[UsageError] = []
            reports, regressions = load_store(query, skip=unread.append)
            if unread:  # a shared store where a newer llmbox saved runs: report the rest
                more = f" (and {len(unread) - 1} more run(s))" if len(unread) > 1 else ""
                out.warn(f"left out {unread[0].message}{more}; {unread[0].hint}")
        doc = build(
            reports,
            load_catalog(),
            load_models(),
            chip=chip,
            regressions=regressions,
            prices=prices,
            apis=apis,
        )
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
