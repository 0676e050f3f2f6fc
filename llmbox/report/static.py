"""The report's charts as files: PNG or SVG rendered by vl-convert (no browser), and Markdown for a
pull-request comment (tables, then links to the images)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmbox.errors import UsageError

if TYPE_CHECKING:  # the chart code (altair) only for the images: `history export` writes too
    from llmbox.report.charts import Chart, Document

#: PNG pixels per Vega pixel: sharp on high-density screens, still small.
PNG_SCALE = 2.0


def render_image(chart: Chart, fmt: str) -> bytes:
    """One chart as ``png`` or ``svg`` bytes."""
    import vl_convert

    from llmbox.report.charts import VL_VERSION

    if fmt == "png":
        return vl_convert.vegalite_to_png(
            chart.spec, vl_version=VL_VERSION, scale=PNG_SCALE, allowed_base_urls=[]
        )
    svg = vl_convert.vegalite_to_svg(chart.spec, vl_version=VL_VERSION, allowed_base_urls=[])
    return svg.encode("utf-8")


def write_images(charts: Sequence[Chart], directory: Path, fmt: str) -> list[Path]:
    """Write ``<name>.<fmt>`` for each chart into ``directory`` (created); returns the paths."""
    import os
    import tempfile

    def cannot(err: OSError) -> UsageError:
        return UsageError(
            f"cannot write images to {directory}: {err.strerror}",
            hint=f"give --{fmt} a directory that can be created or written",
        )

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise cannot(err) from None
    paths = []
    for chart in charts:
        path = directory / f"{chart.name}.{fmt}"
        data = render_image(chart, fmt)
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{chart.name}.", suffix=".tmp")
        except OSError as err:
            raise cannot(err) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise cannot(err) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths.append(path)
    return paths


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def render_markdown(doc: Document, images: dict[str, str] | None = None) -> str:
    """A pull-request comment: what went in, the headline, the verdicts and ceilings as tables,
    then each chart as an image link (``images`` maps a chart name to its path or URL)."""
    i = doc.inputs
    lines = [
        "## llmbox benchmark report",
        "",
        f"{i['reports']} run(s), {i['results']} result(s) of {', '.join(i['models'])} on "
        f"{', '.join(i['machines'])} ({', '.join(i['backends'])}).",
    ]
    if doc.ceilings is not None and doc.ceilings.headlines:
        lines += ["", *(f"- **{h}**" for h in doc.ceilings.headlines)]
    speed = [c for c in doc.charts if c.name == "speed-vs-prompt"]
    if speed:
        lines += ["", "| series | prompt tokens | metric | tok/s (mean ± sd) | n |",
                  "| --- | ---: | --- | ---: | ---: |"]  # fmt: skip
        lines += [
            f"| {_md(r['series'])} | {r['prompt_tokens']} | {r['metric']} | "
            f"{r['mean']:.1f} ± {r['sd']:.1f} | {r['n']} |"
            for r in speed[0].rows
        ]
    if doc.verdicts:
        lines += ["", "| case | metric | verdict | p (Welch) | significant |",
                  "| --- | --- | --- | ---: | --- |"]  # fmt: skip
        for v in doc.verdicts:
            sig = "too few runs" if v.p is None else ("yes" if v.significant else "no")
            lines.append(
                f"| {_md(v.case)} | {v.metric} | {_md(v.faster)} ran {v.ratio:.2f} ± "
                f"{v.ratio_error:.2f}× faster than {_md(v.slower)} | {_num(v.p, '.2g')} | {sig} |"
            )
    if doc.ceilings is not None and doc.ceilings.rows:
        lines += [
            "",
            "| series | case | metric | measured tok/s | predicted tok/s | % of peak "
            "(measured / predicted) |",
            "| --- | --- | --- | ---: | ---: | ---: |",
        ]
        for r in doc.ceilings.rows:
            lines.append(
                f"| {_md(r['series'])} | {_md(r['case'])} | {r['metric']} | "
                f"{r['measured']:.1f} ± {r['sd']:.1f} | {_num(r.get('predicted'))} | "
                f"{_num(r.get('measured_pct'))} / {_num(r.get('predicted_pct'))} |"
            )
    if doc.costs is not None and doc.costs.rows:
        apis = [a["api"] for a in doc.costs.apis]
        be = {(b["series"], b["api"]): b["tokens_per_day"] for b in doc.costs.breakeven}
        lines += ["", "| series | J per output token | local USD per M output | "
                  + " | ".join(f"break-even vs {_md(a)} (tokens/day)" for a in apis) + " |",
                  "| --- | ---: | ---: |" + " ---: |" * len(apis)]  # fmt: skip
        for r in doc.costs.rows:
            energy = f"{r['j_per_token']:.3g}" + ("" if r["energy"] == "measured" else " (est.)")
            breakeven = [f"{be[(r['series'], a)]:,.0f}" if (r["series"], a) in be else "never"
                         for a in apis]  # fmt: skip
            lines.append(
                f"| {_md(r['series'])} | {energy} | {_num(r['usd_per_mtok'], '.3g')} | "
                + " | ".join(breakeven)
                + " |"
            )
    if images:
        lines.append("")
        lines += [f"![{_md(c.title)}]({images[c.name]})" for c in doc.charts if c.name in images]
    if doc.missing:
        lines += ["", "Not shown: " + "; ".join(f"{t} ({h})" for t, h in doc.missing) + "."]
    return "\n".join(lines) + "\n"


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_output(path: Path) -> None:
    """Refuse an ``-o`` that names a SQLite database (the results store, most likely): a report
    or an export written over it would destroy every saved run."""
    if not path.is_file():  # (opening a pipe to look would wait for a writer)
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError:
        return  # not there yet, or unreadable: writing says what is wrong
    if head == _SQLITE_MAGIC:
        raise UsageError(
            f"{path} is a SQLite database (a results store?): not overwritten",
            hint="give -o a new file name, e.g. report.html or runs.jsonl",
        )


def save_text(path: Path, text: str) -> None:
    """Write an ``-o`` file: atomically (temp file + rename) as a rule; into it as it is when it
    is a pipe or a device (``-o /dev/stdout``), which a rename would replace by a plain file."""
    from llmbox.report.exporters import write_atomic

    check_output(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            with path.open("w", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            raise UsageError(
                f"cannot write {path}: {err.strerror}", hint="check --output PATH"
            ) from None
        return
    write_atomic(path, text)
