"""The report's charts: Vega-Lite specs (built with altair) from the tables of ``report.data``.

One spec per chart serves every output: the HTML page embeds it, ``vl-convert`` renders it to PNG
or SVG. ``build(reports)`` returns the charts that have data; each also carries the rows it plots
and ``points``, the number of data marks it draws (the browser tests count them). altair is
imported here and nowhere else: only ``llmbox report`` pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt

from llmbox.hw.chips import Catalog
from llmbox.hw.models import ModelCatalog
from llmbox.report import data as d
from llmbox.report.ceiling import Ceilings, ceilings
from llmbox.results import BenchReport

WIDTH = 300
#: A Vega-Lite release that both altair's schema and vl-convert's bundled renderer know.
VL_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


@dataclass(frozen=True)
class Chart:
    """One chart: ``name`` is its file name stem and HTML id; ``points`` the data marks drawn."""

    name: str
    title: str
    description: str
    spec: dict[str, Any]
    points: int
    rows: list[dict[str, Any]]


@dataclass
class Document:
    """Everything a report shows: charts, and the text beside them."""

    charts: list[Chart]
    verdicts: list[d.Verdict]
    ceilings: Ceilings | None = None
    #: Charts left out for want of data: (title, what would give it data).
    missing: list[tuple[str, str]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


class _Datasets:
    """A chart's data, kept out of altair (which deep-copies and validates every value) and set
    as the spec's top-level ``datasets`` once the spec is built."""

    def __init__(self) -> None:
        self.values: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str, rows: Sequence[dict[str, Any]]) -> alt.Data:
        self.values[name] = list(rows)
        return alt.Data(name=name)  # type: ignore[no-untyped-call]

    def spec(self, chart: Any) -> dict[str, Any]:
        spec: dict[str, Any] = chart.to_dict()
        spec.pop("$schema", None)  # a URL nothing needs; the renderer's version is fixed
        spec["datasets"] = self.values
        return spec


def _tip(name: str, title: str, fmt: str | None = None, kind: str = "Q") -> alt.Tooltip:
    if fmt:
        return alt.Tooltip(f"{name}:{kind}", title=title, format=fmt)
    return alt.Tooltip(f"{name}:{kind}", title=title)


def _mean_sd(base: Any, title: str, tips: list[alt.Tooltip], *, zero: bool = True) -> list[Any]:
    """A line through the means, a whisker of ± one sd at each (``lo``/``hi`` are computed by
    the page rather than shipped in the data), and a point carrying the tooltip."""
    y = alt.Y("mean:Q", title=title, scale=alt.Scale(zero=zero))
    spread = base.transform_calculate(lo="datum.mean - datum.sd", hi="datum.mean + datum.sd")
    return [
        base.mark_line().encode(y=y),
        spread.mark_rule(opacity=0.6).encode(y=alt.Y("lo:Q", title=title), y2="hi:Q"),
        base.mark_point(filled=True, size=60).encode(y=y, tooltip=tips),
    ]


_SERIES = alt.Color("series:N", title="series", legend=alt.Legend(orient="bottom", columns=2))
_STAT_TIPS = [
    _tip("series", "series", kind="N"),
    _tip("mean", "mean", ".1f"),
    _tip("sd", "sd", ".1f"),
    _tip("n", "samples", "d"),
]


def speed_chart(rows: list[dict[str, Any]], axis: str, label: str) -> Chart:
    data = _Datasets()
    base = alt.Chart(data("rows", rows)).encode(
        x=alt.X(f"{axis}:Q", title=label, scale=alt.Scale(zero=False)), color=_SERIES
    )
    tips = [_tip("metric", "metric", kind="N"), _tip(axis, label, "d"), *_STAT_TIPS]
    layered = alt.layer(*_mean_sd(base, "tokens/s", tips)).properties(width=WIDTH, height=220)
    spec = layered.facet(column=alt.Column("metric:N", title=None)).resolve_scale(y="independent")
    name = "prompt" if axis == "prompt_tokens" else "output"
    return Chart(
        f"speed-vs-{name}",
        f"Decode and prefill speed vs {label}",
        f"Tokens per second (mean ± sd over every run) of single-request cases, by {label}; "
        "pooled over the other parameters.",
        data.spec(spec),
        len(rows),
        rows,
    )


def concurrency_chart(rows: list[dict[str, Any]]) -> Chart:
    data = _Datasets()
    tp = [r for r in rows if "mean" in r]
    ttft = [
        {"series": r["series"], "concurrency": r["concurrency"], "percentile": q, "ms": r[key],
         "n": r["ttft_n"]}
        for r in rows
        for q, key in (("p50", "ttft_p50_ms"), ("p99", "ttft_p99_ms"))
        if key in r
    ]  # fmt: skip
    x = alt.X("concurrency:Q", title="concurrent requests", scale=alt.Scale(type="log", base=2))
    base = alt.Chart(data("tp", tp)).encode(x=x, color=_SERIES)
    tips = [_tip("concurrency", "concurrency", "d"), *_STAT_TIPS]
    left = alt.layer(*_mean_sd(base, "output tokens/s (all requests)", tips)).properties(
        width=WIDTH, height=220, title="Throughput"
    )
    tbase = alt.Chart(data("ttft", ttft)).encode(
        x=x, color=_SERIES, strokeDash=alt.StrokeDash("percentile:N", title="TTFT")
    )
    ty = alt.Y("ms:Q", title="time to first token (ms)")
    right = alt.layer(
        tbase.mark_line().encode(y=ty),
        tbase.mark_point(size=60, filled=True).encode(
            y=ty,
            tooltip=[
                _tip("series", "series", kind="N"),
                _tip("concurrency", "concurrency", "d"),
                _tip("percentile", "percentile", kind="N"),
                _tip("ms", "TTFT ms", ".1f"),
                _tip("n", "requests", "d"),
            ],
        ),
    ).properties(width=WIDTH, height=220, title="TTFT p50 / p99")
    return Chart(
        "concurrency",
        "Throughput and TTFT vs concurrency",
        "Left: output tokens per second of the whole server (a batch's tokens over its wall "
        "time; mean ± sd over batches). Right: time to first token, median and 99th percentile "
        "over every request at that level.",
        data.spec(alt.hconcat(left, right).resolve_scale(color="shared")),
        len(tp) + len(ttft),
        rows,
    )


def histogram_chart(rows: list[dict[str, Any]], name: str, what: str, about: str) -> Chart:
    data = _Datasets()
    bars = (
        alt.Chart(data("rows", rows))
        .mark_bar(opacity=0.85)
        .encode(
            x=alt.X("from_ms:Q", title=f"{what} (ms)", bin="binned"),
            x2="to_ms:Q",
            y=alt.Y("count:Q", title="requests"),
            color=_SERIES,
            tooltip=[
                _tip("series", "series", kind="N"),
                _tip("from_ms", "from ms", ".2f"),
                _tip("to_ms", "to ms", ".2f"),
                _tip("count", "requests", "d"),
                _tip("share", "share", ".1%"),
            ],
        )
        .properties(width=2 * WIDTH, height=70)
    )
    spec = bars.facet(row=alt.Row("series:N", title=None, header=alt.Header(labelAngle=0)))
    return Chart(
        name,
        f"{what} distribution",
        about,
        data.spec(spec.resolve_scale(y="independent")),
        len(rows),
        rows,
    )


def side_by_side_chart(rows: list[dict[str, Any]]) -> Chart:
    data = _Datasets()
    base = alt.Chart().encode(
        x=alt.X("series:N", title=None, axis=alt.Axis(labels=False, ticks=False)), color=_SERIES
    )
    layered = alt.layer(
        base.mark_bar().encode(
            y=alt.Y("mean:Q", title="tokens/s"),
            tooltip=[
                _tip("case", "case", kind="N"),
                _tip("metric", "metric", kind="N"),
                *_STAT_TIPS,
            ],
        ),
        base.transform_calculate(lo="datum.mean - datum.sd", hi="datum.mean + datum.sd")
        .mark_rule(color="black")
        .encode(y="lo:Q", y2="hi:Q"),
        data=data("rows", rows),
    ).properties(width=max(60, 28 * len({r["series"] for r in rows})), height=180)
    spec = layered.facet(
        column=alt.Column("case:N", title=None), row=alt.Row("metric:N", title=None)
    ).resolve_scale(y="independent")
    return Chart(
        "models",
        "Models side by side",
        "Decode and prefill tokens per second per case: bars are means, whiskers ± one sample "
        "standard deviation. The verdicts below test each difference with Welch's t-test.",
        data.spec(spec),
        len(rows),
        rows,
    )


def trend_chart(rows: list[dict[str, Any]]) -> Chart:
    data = _Datasets()
    base = (
        alt.Chart(data("rows", rows))
        .transform_calculate(when="utcFormat(toDate(datum.at), '%Y-%m-%d %H:%M UTC')")
        .encode(
            x=alt.X("at:T", title="run started (UTC)", scale=alt.Scale(type="utc")),
            color=_SERIES,
        )
    )
    tips = [
        _tip("when", "started", kind="N"),
        _tip("case", "case", kind="N"),
        *_STAT_TIPS,
        _tip("runs", "runs", "d"),
        _tip("versions", "versions", kind="N"),
    ]
    layers = _mean_sd(base, "decode tokens/s", tips, zero=False)
    flag = (
        base.transform_filter("isValid(datum.regression)")
        .mark_point(shape="triangle-down", size=220, color="#d62728", filled=False, strokeWidth=2)
        .encode(y=alt.Y("mean:Q"), tooltip=[*tips, _tip("regression", "regression %", "+.1f")])
    )
    layered = alt.layer(*layers, flag).properties(width=WIDTH, height=180)
    faceted = layered.facet(facet=alt.Facet("case:N", title=None), columns=2)
    flagged = sum(1 for r in rows if "regression" in r)
    return Chart(
        "trend",
        "Decode speed over time",
        "One point per run of each series, per case (mean ± sd of its requests; long histories "
        "are averaged into time buckets). Red triangles mark the regressions the results "
        f"store found ({flagged}).",
        data.spec(faceted.resolve_scale(y="independent")),
        len(rows) + flagged,
        rows,
    )


def ceiling_chart(rows: list[dict[str, Any]]) -> Chart:
    data = _Datasets()
    long = [
        {"label": f"{r['series']} · {r['case']}", "metric": f"{r['metric']} (% of {r['ceiling']})",
         "which": which, "pct": r[key], "tok_s": r[tok], "chip": r["chip"]}
        for r in rows
        for which, key, tok in (("measured", "measured_pct", "measured"),
                                ("predicted", "predicted_pct", "predicted"))
        if r.get(key) is not None
    ]  # fmt: skip
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None),
            yOffset=alt.YOffset("which:N"),
            x=alt.X("pct:Q", title="% of the chip's peak"),
            color=alt.Color("which:N", title=None, scale=alt.Scale(range=["#1f77b4", "#bbbbbb"])),
            tooltip=[
                _tip("label", "result", kind="N"),
                _tip("chip", "chip", kind="N"),
                _tip("which", "", kind="N"),
                _tip("tok_s", "tokens/s", ".1f"),
                _tip("pct", "% of peak", ".1f"),
            ],
        )
        .properties(width=WIDTH, height=alt.Step(14))
    )
    spec = alt.layer(bars, data=data("long", long)).facet(column=alt.Column("metric:N", title=None))
    return Chart(
        "ceiling",
        "Measured vs predicted, as % of the chip's ceiling",
        "Decode: tokens/s × bytes read per token (active weights + KV cache) over the chip's "
        "memory bandwidth. Prefill: tokens/s × FLOP per token over its peak compute. Grey: "
        "what hw-estimate predicts for the same model, workload and chip.",
        data.spec(spec.resolve_scale(x="independent")),
        len(long),
        rows,
    )


def build(
    reports: Sequence[BenchReport],
    catalog: Catalog,
    models: ModelCatalog,
    *,
    chip: str | None = None,
    regressions: Sequence[d.Regression] = (),
) -> Document:
    """Every chart the reports have data for, in reading order."""
    items = d.entries(reports)
    doc = Document(charts=[], verdicts=[])

    def add(title: str, rows: list[dict[str, Any]], make: Any, hint: str, *args: Any) -> None:
        if rows:
            doc.charts.append(make(rows, *args))
        else:
            doc.missing.append((title, hint))

    add(
        "Speed vs prompt length",
        d.speed_vs(items, "prompt_tokens"),
        speed_chart,
        "run single-request cases: llmbox bench MODEL",
        "prompt_tokens",
        "prompt tokens",
    )
    add("Speed vs output length", d.speed_vs(items, "max_tokens"), speed_chart,
        "run single-request cases: llmbox bench MODEL", "max_tokens", "output tokens")  # fmt: skip
    levels = d.concurrency(items)
    sweep = levels if len({r["concurrency"] for r in levels}) > 1 else []
    add("Throughput and TTFT vs concurrency", sweep, concurrency_chart,
        "sweep concurrency: llmbox bench MODEL --concurrency 1,2,4,8")  # fmt: skip
    add("TTFT distribution", d.histogram(items, "ttft_s"), histogram_chart,
        "no request measured a time to first token", "ttft", "Time to first token",
        "Requests per bin of time to first token, per series (the most-measured "
        f"{d.MAX_DIST_SERIES} at most).")  # fmt: skip
    add("Inter-token latency distribution", d.histogram(items, "itl_mean_s"), histogram_chart,
        "no request streamed two tokens or more", "itl", "Inter-token latency",
        "Requests per bin of their mean gap between streamed tokens, per series.")  # fmt: skip
    sbs, doc.verdicts = d.side_by_side(items)
    add("Models side by side", sbs, side_by_side_chart,
        "benchmark two models or more on the same case: llmbox bench A B")  # fmt: skip
    add("Decode speed over time", d.trend(items, regressions), trend_chart,
        "benchmark the same model and case at two times or more")  # fmt: skip
    doc.ceilings = ceilings(items, catalog, models, chip)
    add("Measured vs predicted", [r for r in doc.ceilings.rows if "measured_pct" in r],
        ceiling_chart, "single-request results of models the estimator knows")  # fmt: skip
    doc.inputs = summary(reports, items)
    return doc


def summary(reports: Sequence[BenchReport], items: Sequence[d.Entry]) -> dict[str, Any]:
    """What went into the report: counts, models, machines, backends, the time span."""
    times = sorted(e.started_at for e in items if e.started_at)
    return {
        "reports": len(reports),
        "results": len(items),
        "requests": sum(len(e.result.runs) for e in items),
        "models": sorted({e.result.model for e in items}),
        "machines": sorted({d.machine_name(r) for r in reports}),
        "backends": sorted({r.backend for r in reports}),
        "first": times[0].strftime("%Y-%m-%d %H:%M UTC") if times else None,
        "last": times[-1].strftime("%Y-%m-%d %H:%M UTC") if times else None,
    }
