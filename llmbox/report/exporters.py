"""Exporters: pure functions from a typed report (``llmbox.results.BenchReport``) to text. They
never print; the CLI decides where the text goes.

    table   terminal table: only the columns that vary, ``mean ± sd``, then the verdict lines
    json    the whole report (schema ``llmbox.bench/1``), indented
    jsonl   one self-contained line per result (provenance + that result), like llama-bench
    csv     one row per result, columns ``CSV_COLUMNS`` in that order (stable for CI diffs)
    md      a Markdown table like llama-bench's, then verdicts, warnings and failed gates

``write_atomic`` writes a file so a reader never sees half of it (temp file + ``os.replace``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from llmbox.bench.compare import CompareRow, verdicts
from llmbox.bench.comparison import Comparison
from llmbox.bench.fields import CSV_STATS, METRICS
from llmbox.bench.load import knees, sustained
from llmbox.bench.mixes import cache_effect
from llmbox.bench.quality import quality_lines
from llmbox.bench.thinking import thinking_lines
from llmbox.defaults import ALPHA
from llmbox.errors import UsageError
from llmbox.results import BenchReport, CaseResult, shown_time

Report = BenchReport
Result = CaseResult
Exporter = Callable[[Report], str]

# -- json / jsonl --------------------------------------------------------------------------------

#: Top-level keys repeated on every JSONL line.
JSONL_HEADER = ("schema", "llmbox_version", "backend", "server", "machine", "started_at", "options")


def to_json(report: Report) -> str:
    """The whole report, indent 2, keys in the documented order.

    Serialised by pydantic's compiled serializer straight to text: no intermediate dict of the
    whole report (a 10,000-run report would hold every run twice). Same text as
    ``json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False)`` up to how very small or
    large floats are spelled (``1e-5`` for ``1e-05``).
    """
    return report.model_dump_json(indent=2, by_alias=True) + "\n"


def to_jsonl(report: Report) -> str:
    """One line per result: the provenance keys of ``JSONL_HEADER``, the result's own keys and
    the gates checked on that result."""
    data = report.to_json_dict()
    header = {key: data.get(key) for key in JSONL_HEADER}
    lines = []
    for result, plain in zip(report.results, data["results"], strict=True):
        mine = [
            g
            for g, typed in zip(data["gates"], report.gates, strict=True)
            if typed.model == result.model and typed.case == result.case.label
        ]
        lines.append(json.dumps({**header, **plain, "gates": mine}, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


# -- csv -----------------------------------------------------------------------------------------

CASE_COLUMNS = (
    "prompt_tokens",
    "max_tokens",
    "concurrency",
    "think",
    "images",
    "api",
    "num_ctx",
    "cold",
    "mode",
    "rate",
)
MODEL_COLUMNS = ("digest", "quantization", "parameter_size", "processor")

#: The CSV header, in order: identity, case fields, model info (digest cut to 12 characters),
#: run counts, ``<metric>_<stat>`` for every metric and stat, then warnings (codes joined by
#: ``;``) and provenance. A metric a result did not measure leaves its cells empty.
CSV_COLUMNS = (
    "model",
    "case",
    *CASE_COLUMNS,
    *MODEL_COLUMNS,
    "runs",
    "failed_runs",
    *(f"{metric}_{stat}" for metric in METRICS for stat in CSV_STATS),
    "warnings",
    "llmbox_version",
    "server_version",
    "started_at",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(report: Report) -> str:
    """One row per result, columns ``CSV_COLUMNS``; ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in report.results:
        case, info, summary = result.case, result.model_info, result.summary
        row: list[Any] = [result.model, case.label]
        row += [getattr(case, key) for key in CASE_COLUMNS]
        row += [info.digest[:12], *(getattr(info, key) for key in MODEL_COLUMNS[1:])]
        row += [len(result.runs), _failed(result)]
        row += [summary[m].get(s) if m in summary else None for m in METRICS for s in CSV_STATS]
        row += [";".join(w.code for w in result.warnings)]
        row += [report.llmbox_version, report.server.version, report.started_at]
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


# -- shared by table and md ----------------------------------------------------------------------


def _failed(result: Result) -> int:
    return result.failed_runs or result.failed


def _has(results: Iterable[Result], metric: str) -> bool:
    return any(metric in r.summary for r in results)


def _partial_offload(result: Result) -> bool:
    processor = result.model_info.processor
    return bool(processor) and processor != "100% GPU"


def _cached(result: Result) -> int:
    return max((r.cached_prompt_tokens or 0 for r in result.runs), default=0)


class _Column:
    """A metric column: heading with its unit, and ``mean ± sd`` cells in that unit."""

    def __init__(self, metric: str, results: Sequence[Result], stat: str = "mean") -> None:
        self.metric, self.stat = metric, stat
        spec = METRICS[metric]
        self.scale, self.digits, unit = 1.0, 1, "t/s"
        if spec.unit == "req/s":
            self.digits, unit = 2, "req/s"
            self.heading = spec.label
        elif spec.unit == "share":
            self.scale, self.digits, unit = 100.0, 1, "%"
            self.heading = f"{spec.label} %"
        elif spec.is_time:
            means = [r.summary[metric].mean for r in results if metric in r.summary]
            if max(means, default=0.0) < 1:
                self.scale, self.digits, unit = 1000.0, 1, "ms"
            else:
                self.digits, unit = 3, "s"
            self.heading = f"{spec.label} {unit}"
        else:
            self.heading = spec.label
        if stat != "mean":
            self.heading = f"{spec.label} {stat}" + (f" {unit}" if spec.is_time else "")

    def cell(self, result: Result) -> str:
        s = result.summary.get(self.metric)
        value = s.get(self.stat) if s is not None else None
        if s is None or value is None:
            return "-"
        mean = value * self.scale
        if self.stat != "mean" or s.n <= 1 or METRICS[self.metric].unit == "share":
            return f"{mean:.{self.digits}f}"
        return f"{mean:.{self.digits}f} ± {s.sd * self.scale:.{self.digits}f}"


def _metric_columns(results: Sequence[Result], *, varying_only: bool) -> list[_Column]:
    """prefill, decode, answer (thinking), aggregate and req/s (concurrency), TTFT (p90 too with
    concurrency), TTFT answer, e2e, load."""
    thinking = _has(results, "answer_tps") or _has(results, "ttft_answer_s")
    concurrent = any(r.case.concurrency > 1 or r.case.rate is not None for r in results)
    wanted: list[tuple[str, str]] = [("prefill_tps", "mean"), ("decode_tps", "mean")]
    if thinking:
        wanted.append(("answer_tps", "mean"))
    if concurrent:
        wanted += [("aggregate_tps", "mean"), ("requests_per_s", "mean")]
    wanted.append(("ttft_s", "mean"))
    if concurrent:
        wanted.append(("ttft_s", "p90"))
    if thinking:
        wanted.append(("ttft_answer_s", "mean"))
    wanted += [("e2e_s", "mean"), ("load_s", "mean")]
    if _has(results, "slo_pass"):
        wanted += [("slo_pass", "mean"), ("goodput", "mean")]
    if _has(results, "pass_rate"):
        wanted.append(("pass_rate", "mean"))
    if varying_only:
        wanted = [(m, s) for m, s in wanted if _has(results, m)]
    return [_Column(m, results, s) for m, s in wanted]


def baseline_lines(report: Report) -> list[str]:
    """Which run ``--baseline`` compared with, and the regression gates' verdict in one line."""
    ref = report.baseline
    if ref is None:
        return []
    checked = [g for g in report.gates if g.kind == "regression"]
    worse = [g for g in checked if not g.passed]
    when = f", started {shown_time(ref.started_at)}" if ref.started_at else ""
    limit = f"{checked[0].limit:g}%" if checked else "the limit"
    verdict = (
        f"{len(worse)} of {len(checked)} metrics significantly worse by more than {limit}"
        if worse
        else f"no metric significantly worse by more than {limit} ({len(checked)} checked)"
    )
    return [f"baseline {ref.source} (--baseline {ref.spec}{when}): {verdict}"]


def _summary_lines(report: Report) -> list[str]:
    """The lines under a table: verdicts, load headlines, workload headlines, the baseline."""
    return (
        baseline_lines(report)
        + verdicts(report)
        + sustained(report)
        + knees(report)
        + cache_effect(report)
        + quality_lines(report)
        + thinking_lines(report)
    )


def _distinct(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


# -- table ---------------------------------------------------------------------------------------


def to_table(report: Report) -> str:
    """The terminal table. Identity columns appear only when they vary (a constant model or case
    goes into the title); metric columns when some result measured them; extra columns only when
    they say something: aggregate t/s with concurrency, answer t/s and TTFT answer with thinking,
    ``cached`` with cached prompt tokens, ``processor`` with a partial GPU offload, ``failed``
    with failed runs. The verdict lines follow the table."""
    from llmbox.report.terminal import render_table

    results = report.results
    if not results:
        return "no results\n"
    models = _distinct(r.model for r in results)
    labels = _distinct(r.case.label for r in results)
    headers: list[str] = []
    getters: list[Callable[[Result], str]] = []

    def add(heading: str, getter: Callable[[Result], str]) -> None:
        headers.append(heading)
        getters.append(getter)

    if len(models) > 1:
        add("model", lambda r: r.model)
    if len(labels) > 1:
        add("case", lambda r: r.case.label)
    if len(_distinct(r.case.concurrency for r in results)) > 1:
        add("conc", lambda r: str(r.case.concurrency))
    if any(_partial_offload(r) for r in results):
        add("processor", lambda r: r.model_info.processor or "-")
    identity = len(headers)
    for column in _metric_columns(results, varying_only=True):
        add(column.heading, column.cell)
    if any(_cached(r) for r in results):
        add("cached", lambda r: str(_cached(r)) if _cached(r) else "-")
    if any(_failed(r) for r in results):
        add("failed", lambda r: f"{_failed(r)}/{len(r.runs)}")
    title_parts = []
    if len(models) == 1:
        title_parts.append(str(models[0]))
    if len(labels) == 1:
        title_parts.append(str(labels[0]))
    rows = [[get(r) for get in getters] for r in results]
    text = render_table(
        headers,
        rows,
        title=" · ".join(title_parts) or None,
        right_align=headers[identity:],
    )
    tail = _summary_lines(report)
    if report.interrupted:
        tail.append("interrupted: only the requests that finished are shown")
    if tail:
        text += "\n" + "\n".join(tail) + "\n"
    return text


# -- markdown ------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """A llama-bench-like Markdown table (model | case | prefill t/s | decode t/s | TTFT | e2e |
    load, plus answer/aggregate/failed columns when relevant), a provenance line, the verdicts,
    the warnings with their advice and any failed gates."""
    results = report.results
    columns = _metric_columns(results, varying_only=False)
    headers = ["model", "case", *(c.heading for c in columns)]
    failed_any = any(_failed(r) for r in results)
    if failed_any:
        headers.append("failed")
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(["---", "---"] + ["---:"] * (len(headers) - 2)) + " |",
    ]
    for r in results:
        cells = [r.model, r.case.label, *(c.cell(r) for c in columns)]
        if failed_any:
            cells.append(f"{_failed(r)}/{len(r.runs)}")
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    server, machine = report.server, report.machine
    facts = [f"llmbox {report.llmbox_version}"]
    facts.append(f"{server.kind or report.backend} {server.version} at {server.host}")
    if machine.get("chip") or machine.get("cpu"):
        facts.append(str(machine.get("chip") or machine.get("cpu")))
    facts += [str(gpu.get("name")) for gpu in machine.get("gpus") or []]
    facts.append(f"started {shown_time(report.started_at)}")
    lines += ["", " · ".join(facts)]
    if report.interrupted:
        lines += ["", "**Interrupted**: only the requests that finished are shown."]
    if found := _summary_lines(report):
        lines += ["", "**Summary**", "", *(f"- {v}" for v in found)]
    warned = [(r, w) for r in results for w in r.warnings]
    if warned:
        lines += ["", "**Warnings**", ""]
        lines += [
            f"- {r.model} {r.case.label}: {w.message} — {w.advice} (`{w.code}`)" for r, w in warned
        ]
    if report.gates:
        failed = [g for g in report.gates if not g.passed]
        lines += ["", f"**Gates**: {len(report.gates) - len(failed)} passed, {len(failed)} failed"]
        lines += [""] + [f"- {g.model} {g.case}: {g.message}" for g in failed]
    return "\n".join(lines).rstrip("\n") + "\n"


# -- registry ------------------------------------------------------------------------------------

EXPORTERS: dict[str, Exporter] = {
    "table": to_table,
    "json": to_json,
    "jsonl": to_jsonl,
    "csv": to_csv,
    "md": to_markdown,
}


def render(fmt: str, report: Report) -> str:
    """The report in format ``fmt`` (a key of ``EXPORTERS``)."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown format {fmt!r}", hint=f"use one of {', '.join(EXPORTERS)}"
        ) from None
    return exporter(report)


# -- comparisons (llmbox bench compare) ----------------------------------------------------------

COMPARE_COLUMNS = (
    "model", "case", "metric", "base_mean", "base_sd", "new_mean", "new_sd", "ratio",
    "ratio_error", "change_pct", "worse_pct", "p_value", "threshold_pct", "regression", "status",
)  # fmt: skip


def _fmt_opt(metric: str, value: float | None) -> str:
    from llmbox.bench.fields import fmt_value

    return "-" if value is None else fmt_value(metric, value)


def _compare_cells(r: CompareRow) -> list[str]:
    ratio = "-" if r.ratio is None else f"{r.ratio:.2f} ± {r.ratio_error or 0.0:.2f}×"
    change = "-" if r.change_pct is None else f"{r.change_pct:+.1f}%"
    p = "-" if r.p_value is None else f"{r.p_value:.3f}"
    return [r.model, r.case, r.metric, _fmt_opt(r.metric, r.base_mean),
            _fmt_opt(r.metric, r.new_mean), ratio, change, p, r.status]  # fmt: skip


_COMPARE_HEADERS = ["model", "case", "metric", "base", "new", "new/base", "change", "p", "status"]


def _compare_tail(c: Comparison) -> list[str]:
    lines = [f"status 'same': no significant difference (Welch's t-test, p ≥ {ALPHA:g})"]
    if c.threshold_pct is not None:
        lines.append(f"{c.regressions} significant regression(s) beyond {c.threshold_pct:g}%")
    lines += [f"gate {g.model} {g.case}: {g.message}" for g in c.gates if not g.passed]
    return lines


def compare_to_table(c: Comparison) -> str:
    from llmbox.report.terminal import render_table

    if not c.rows:
        return "nothing to compare: no (model, case) in common\n"
    text = render_table(
        _COMPARE_HEADERS, [_compare_cells(r) for r in c.rows], right_align=_COMPARE_HEADERS[3:8]
    )
    return text + "\n" + "\n".join(_compare_tail(c)) + "\n"


def compare_to_md(c: Comparison) -> str:
    lines = [
        "| " + " | ".join(_COMPARE_HEADERS) + " |",
        "| " + " | ".join(["---"] * 3 + ["---:"] * 5 + ["---"]) + " |",
    ]
    lines += ["| " + " | ".join(_md_escape(x) for x in _compare_cells(r)) + " |" for r in c.rows]
    return "\n".join([*lines, "", *(f"- {t}" for t in _compare_tail(c))]) + "\n"


def _compare_dicts(c: Comparison) -> list[dict[str, Any]]:
    return [{k: getattr(r, k) for k in COMPARE_COLUMNS} for r in c.rows]


def compare_to_json(c: Comparison) -> str:
    data = {
        "base": {"started_at": c.base.started_at, "server": c.base.server.model_dump()},
        "new": {"started_at": c.new.started_at, "server": c.new.server.model_dump()},
        "alpha": ALPHA,
        "threshold_pct": c.threshold_pct,
        "rows": _compare_dicts(c),
        "regressions": c.regressions,
        "gates": [g.model_dump() for g in c.gates],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def compare_to_jsonl(c: Comparison) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in _compare_dicts(c))


def compare_to_csv(c: Comparison) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COMPARE_COLUMNS)
    for row in _compare_dicts(c):
        writer.writerow([_cell(row[k]) for k in COMPARE_COLUMNS])
    return buffer.getvalue()


COMPARE_EXPORTERS: dict[str, Callable[[Comparison], str]] = {
    "table": compare_to_table,
    "json": compare_to_json,
    "jsonl": compare_to_jsonl,
    "csv": compare_to_csv,
    "md": compare_to_md,
}


def render_comparison(fmt: str, comparison: Comparison) -> str:
    return COMPARE_EXPORTERS[fmt](comparison)


def parse_outputs(specs: Sequence[str]) -> list[tuple[str, Path | None]]:
    """``json:out/bench.json`` -> ("json", Path(...)); the format may be inferred from a suffix;
    ``json:-`` -> ("json", None): that format on stdout."""
    outputs: list[tuple[str, Path | None]] = []
    for spec in specs:
        fmt, sep, path = spec.partition(":")
        if not sep or fmt not in EXPORTERS:
            suffix = Path(spec).suffix.lstrip(".")
            if suffix in EXPORTERS and not sep:
                fmt, path = suffix, spec
            else:
                raise UsageError(
                    f"--output {spec!r}: expected FORMAT:PATH",
                    hint=f"FORMAT is one of {', '.join(EXPORTERS)}, e.g. --output json:bench.json",
                )
        if not path:
            raise UsageError(f"--output {spec!r}: no path", hint="e.g. --output json:bench.json")
        outputs.append((fmt, None if path == "-" else Path(path)))
    if sum(1 for _, p in outputs if p is None) > 1:
        raise UsageError("only one --output may go to stdout (-)")
    return outputs


def stdout_format(fmt: str | None, outputs: Sequence[tuple[str, Path | None]]) -> str:
    """The format printed on stdout: ``-f``, or the one ``-o FMT:-`` names (not both)."""
    piped = next((f for f, p in outputs if p is None), None)
    if piped is not None and fmt is not None and fmt != piped:
        raise UsageError(f"-f {fmt} and -o {piped}:- both ask for stdout", hint="give one of them")
    return piped or fmt or "table"


def write_outputs(outputs: Sequence[tuple[str, Path | None]], report: BenchReport) -> None:
    """Rewrite every output file (atomically) with the report as it stands."""
    for fmt, path in outputs:
        if path is not None:
            write_atomic(path, render(fmt, report))


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temp file in the same directory and
    ``os.replace``, so readers see the old file or the new one, never half of one. Creates the
    parent directory; the file gets the usual umask-based permissions. A device or pipe
    (``/dev/null``, ``/dev/stdout``, a FIFO) is written into, never replaced (as root the rename
    would succeed and turn ``/dev/null`` into a file); a symlink's target file is replaced."""
    target = Path(path)
    if target.exists() and not target.is_file():
        if target.is_dir():
            raise UsageError(f"cannot write {target}: it is a directory", hint="name a file")
        try:
            with open(target, "wb") as handle:
                handle.write(text.encode("utf-8"))
        except OSError as err:
            raise UsageError(
                f"cannot write {target}: {err.strerror}", hint="check --output PATH"
            ) from None
        return
    if target.is_symlink():
        target = target.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise UsageError(
            f"cannot write {target}: {err.strerror}", hint="check --output PATH"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {target}: {err.strerror}", hint="check --output PATH"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
