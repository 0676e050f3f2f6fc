"""The report as one self-contained HTML page: no CDN, no network, opens from disk.

The Vega, Vega-Lite and vega-embed JavaScript (``vl-convert``'s bundle, ~0.9 MB) is inlined once
per page whatever the number of charts; each chart is a Vega-Lite spec in a JSON script tag,
drawn as SVG with tooltips. A Content-Security-Policy forbids every network request, so a page
that tried one would fail loudly instead of quietly phoning out.

Building the bundle takes vl-convert a few seconds, so it is cached per version in the user's
cache directory (``$XDG_CACHE_HOME/llmbox``).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmbox import __version__
from llmbox.report.charts import VL_VERSION, Chart, Document

#: Only inline code may run; nothing may be fetched (Vega compiles expressions: 'unsafe-eval').
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)

EMBED_OPTIONS = {
    "renderer": "svg",
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1.5rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta, .about, .missing { color: #555; } section { border-top: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.yes { color: #1a7f37; font-weight: 600; } .no { color: #777; }
.headline { font-size: 1.05rem; font-weight: 600; }
.chart-error { color: #b00; }
"""

_RUNNER = """
(function () {
  var options = %s;
  document.querySelectorAll('script[data-chart]').forEach(function (el) {
    var target = document.getElementById(el.dataset.chart);
    vegaEmbed(target, JSON.parse(el.textContent), options).then(function () {
      target.dataset.rendered = 'true';
    }).catch(function (err) {
      target.textContent = 'This chart could not be drawn: ' + err;
      target.className += ' chart-error';
      console.error(err);
    });
  });
})();
"""


#: What the bundle exposes to the page's own script.
_GLOBALS = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmbox"


def js_bundle() -> str:
    """vega + vega-lite + vega-embed as one script, from the user cache or built by vl-convert."""
    from importlib.metadata import version

    import vl_convert

    name = f"vega-bundle-vlc{version('vl-convert-python')}-vl{VL_VERSION}.js"
    path = _cache_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(_GLOBALS, vl_version=VL_VERSION)
    try:
        from llmbox.report.exporters import write_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, bundle)
    except OSError:
        pass  # a read-only home only costs the next report the same few seconds
    return bundle


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            out.append(f"<td{cls}>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def verdict_table(doc: Document) -> str:
    rows = []
    for v in doc.verdicts:
        sig = (
            '<span class="no">too few runs</span>'
            if v.p is None
            else f'<span class="{"yes" if v.significant else "no"}">'
            f"{'significant' if v.significant else 'not significant'}</span>"
        )
        p = "–" if v.p is None else f"{v.p:.2g}"
        rows.append(
            [_e(v.case), _e(v.metric), _e(v.faster), _e(v.slower),
             f"{v.ratio:.2f} ± {v.ratio_error:.2f}×", p, sig]
        )  # fmt: skip
    head = ["case", "metric", "faster", "than", "ratio", "p (Welch)", "verdict"]
    return _table(head, rows, {4, 5})


def ceiling_table(doc: Document) -> str:
    if doc.ceilings is None or not doc.ceilings.rows:
        return ""
    rows = [
        [_e(r["series"]), _e(r["case"]), _e(r["metric"]), _e(r["chip"]),
         f"{r['measured']:.1f} ± {r['sd']:.1f}", _fmt(r.get("predicted")),
         _fmt(r.get("vs_predicted_pct"), ".0f"), _fmt(r.get("measured_pct")),
         _fmt(r.get("predicted_pct"))]
        for r in doc.ceilings.rows
    ]  # fmt: skip
    head = ["series", "case", "metric", "chip", "measured tok/s", "predicted tok/s",
            "% of prediction", "measured % of peak", "predicted % of peak"]  # fmt: skip
    return _table(head, rows, {4, 5, 6, 7, 8})


def _inputs(doc: Document) -> str:
    i = doc.inputs
    span = f"{i['first']} – {i['last']}" if i.get("first") else "unknown dates"
    parts = [
        f"{i['reports']} run(s), {i['results']} result(s), {i['requests']} request(s)",
        f"models: {', '.join(i['models'])}",
        f"machines: {', '.join(i['machines'])}",
        f"backends: {', '.join(i['backends'])}",
        span,
    ]
    return '<p class="meta">' + " · ".join(_e(p) for p in parts) + "</p>"


def _section(chart: Chart, extra: str = "") -> str:
    return (
        f'<section id="section-{chart.name}"><h2>{_e(chart.title)}</h2>'
        f'<p class="about">{_e(chart.description)}</p>'
        f'<div class="chart" id="chart-{chart.name}" data-points="{chart.points}"></div>'
        f'<script type="application/json" data-chart="chart-{chart.name}">'
        f"{_script_json(chart.spec)}</script>{extra}</section>"
    )


def render_html(doc: Document, bundle: str, *, title: str = "llmbox benchmark report") -> str:
    """The whole page. ``bundle`` is the Vega JavaScript (``js_bundle()``), inlined once."""
    body = [f"<h1>{_e(title)}</h1>", _inputs(doc)]
    if doc.ceilings is not None:
        body += [f'<p class="headline">{_e(h)}</p>' for h in doc.ceilings.headlines]
    if not doc.charts:
        body.append('<p class="missing">No chart has data: the reports hold no results.</p>')
    for chart in doc.charts:
        extra = ""
        if chart.name == "models" and doc.verdicts:
            extra = verdict_table(doc)
        elif chart.name == "ceiling":
            extra = ceiling_table(doc)
            notes = doc.ceilings.notes if doc.ceilings is not None else []
            extra += "".join(f'<p class="missing">{_e(n)}</p>' for n in notes)
        body.append(_section(chart, extra))
    if doc.missing:
        items = "".join(f"<li>{_e(t)}: {_e(h)}</li>" for t, h in doc.missing)
        body.append(f'<section><h2>Not shown</h2><ul class="missing">{items}</ul></section>')
    safe_bundle = bundle.replace("</script", "<\\/script")
    runner = _RUNNER % _script_json(EMBED_OPTIONS)
    body.append(f'<p class="meta">Made by llmbox {_e(__version__)}; works offline.</p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<script>{safe_bundle}</script>\n<script>{runner}</script>"
        + "\n</body></html>\n"
    )
