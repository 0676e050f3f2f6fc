"""Exporters: pure functions from a report dict (``BenchReport.to_dict()``, or ``json.load`` of a
saved file) to text. They never print; the CLI decides where the text goes.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmbox.bench.compare import verdicts
from llmbox.bench.fields import CSV_STATS, METRICS
from llmbox.errors import UsageError

Report = Mapping[str, Any]
Result = Mapping[str, Any]
Exporter = Callable[[Report], str]

# -- json / jsonl --------------------------------------------------------------------------------

#: Top-level keys repeated on every JSONL line.
JSONL_HEADER = ("schema", "llmbox_version", "backend", "server", "machine", "started_at", "options")


def to_json(report: Report) -> str:
    """The whole report, indent 2, keys in the order produced.

    Same text as ``json.dumps(report, indent=2)``, written chunk by chunk: ``dumps`` first lists
    every chunk (~60 small strings per run), which made a 10,000-run report peak at ~5 KB per
    run instead of ~2 KB (benchmarks/memory.py).
    """
    out = io.StringIO()
    write = out.write
    for chunk in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(report):
        write(chunk)
    write("\n")
    return out.getvalue()


def to_jsonl(report: Report) -> str:
    """One line per result: the provenance keys of ``JSONL_HEADER``, the result's own keys and
    the gates checked on that result."""
    header = {key: report.get(key) for key in JSONL_HEADER}
    gates = list(report.get("gates") or [])
    lines = []
    for result in _results(report):
        label = result["case"]["label"]
        mine = [
            g for g in gates if g.get("model") == result.get("model") and g.get("case") == label
        ]
        line = {**header, **result, "gates": mine}
        lines.append(json.dumps(line, ensure_ascii=False))
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
    server_version = (report.get("server") or {}).get("version")
    for result in _results(report):
        case, info = result["case"], result.get("model_info") or {}
        summary = result.get("summary") or {}
        row: list[Any] = [result.get("model"), case.get("label")]
        row += [case.get(key) for key in CASE_COLUMNS]
        row += [(info.get("digest") or "")[:12], *(info.get(key) for key in MODEL_COLUMNS[1:])]
        row += [len(result.get("runs") or []), _failed(result)]
        row += [summary.get(m, {}).get(s) for m in METRICS for s in CSV_STATS]
        row += [";".join(w["code"] for w in result.get("warnings") or [])]
        row += [report.get("llmbox_version"), server_version, report.get("started_at")]
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


# -- shared by table and md ----------------------------------------------------------------------


def _results(report: Report) -> list[Result]:
    return list(report.get("results") or [])


def _failed(result: Result) -> int:
    if "failed_runs" in result:
        return int(result["failed_runs"])
    return sum(1 for r in result.get("runs") or [] if r.get("error") is not None)


def _has(results: Iterable[Result], metric: str) -> bool:
    return any(metric in (r.get("summary") or {}) for r in results)


def _partial_offload(result: Result) -> bool:
    processor = (result.get("model_info") or {}).get("processor")
    return bool(processor) and processor != "100% GPU"


def _cached(result: Result) -> int:
    return max((r.get("cached_prompt_tokens") or 0 for r in result.get("runs") or []), default=0)


class _Column:
    """A metric column: heading with its unit, and ``mean ± sd`` cells in that unit."""

    def __init__(self, metric: str, results: Sequence[Result]) -> None:
        self.metric = metric
        spec = METRICS[metric]
        self.scale, self.digits, unit = 1.0, 1, "t/s"
        if spec.is_time:
            means = [(r.get("summary") or {}).get(metric, {}).get("mean", 0.0) for r in results]
            if max(means, default=0.0) < 1:
                self.scale, self.digits, unit = 1000.0, 1, "ms"
            else:
                self.digits, unit = 3, "s"
            self.heading = f"{spec.label} {unit}"
        else:
            self.heading = spec.label

    def cell(self, result: Result) -> str:
        s = (result.get("summary") or {}).get(self.metric)
        if not s or "mean" not in s:
            return "-"
        mean = s["mean"] * self.scale
        if s.get("n", 2) <= 1:
            return f"{mean:.{self.digits}f}"
        return f"{mean:.{self.digits}f} ± {s.get('sd', 0.0) * self.scale:.{self.digits}f}"


def _metric_columns(results: Sequence[Result], *, varying_only: bool) -> list[_Column]:
    """prefill, decode, answer (thinking), aggregate (concurrency), TTFT, TTFT answer, e2e, load."""
    thinking = _has(results, "answer_tps") or _has(results, "ttft_answer_s")
    concurrent = any(r["case"].get("concurrency", 1) > 1 for r in results)
    wanted = ["prefill_tps", "decode_tps"]
    if thinking:
        wanted.append("answer_tps")
    if concurrent:
        wanted.append("aggregate_tps")
    wanted.append("ttft_s")
    if thinking:
        wanted.append("ttft_answer_s")
    wanted += ["e2e_s", "load_s"]
    if varying_only:
        wanted = [m for m in wanted if _has(results, m)]
    return [_Column(m, results) for m in wanted]


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

    results = _results(report)
    if not results:
        return "no results\n"
    models = _distinct(r.get("model") for r in results)
    labels = _distinct(r["case"]["label"] for r in results)
    headers: list[str] = []
    getters: list[Callable[[Result], str]] = []

    def add(heading: str, getter: Callable[[Result], str]) -> None:
        headers.append(heading)
        getters.append(getter)

    if len(models) > 1:
        add("model", lambda r: str(r.get("model")))
    if len(labels) > 1:
        add("case", lambda r: str(r["case"]["label"]))
    if len(_distinct(r["case"].get("concurrency", 1) for r in results)) > 1:
        add("conc", lambda r: str(r["case"].get("concurrency", 1)))
    if any(_partial_offload(r) for r in results):
        add("processor", lambda r: str((r.get("model_info") or {}).get("processor") or "-"))
    identity = len(headers)
    for column in _metric_columns(results, varying_only=True):
        add(column.heading, column.cell)
    if any(_cached(r) for r in results):
        add("cached", lambda r: str(_cached(r)) if _cached(r) else "-")
    if any(_failed(r) for r in results):
        add("failed", lambda r: f"{_failed(r)}/{len(r.get('runs') or [])}")
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
    tail = verdicts(report)
    if report.get("interrupted"):
        tail.append("interrupted: these are the cases that finished")
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
    results = _results(report)
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
        cells = [str(r.get("model")), str(r["case"]["label"]), *(c.cell(r) for c in columns)]
        if failed_any:
            cells.append(f"{_failed(r)}/{len(r.get('runs') or [])}")
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    server = report.get("server") or {}
    machine = report.get("machine") or {}
    facts = [f"llmbox {report.get('llmbox_version')}"]
    if server:
        kind = server.get("kind") or report.get("backend") or "server"
        facts.append(f"{kind} {server.get('version')} at {server.get('host')}")
    if machine.get("chip") or machine.get("cpu"):
        facts.append(str(machine.get("chip") or machine.get("cpu")))
    facts += [str(gpu.get("name")) for gpu in machine.get("gpus") or []]
    facts.append(f"started {report.get('started_at')}")
    lines += ["", " · ".join(facts)]
    if report.get("interrupted"):
        lines += ["", "**Interrupted**: only the cases that finished are shown."]
    if found := verdicts(report):
        lines += ["", "**Summary**", "", *(f"- {v}" for v in found)]
    warned = [(r, w) for r in results for w in r.get("warnings") or []]
    if warned:
        lines += ["", "**Warnings**", ""]
        lines += [
            f"- {r.get('model')} {r['case']['label']}: {w['message']} — {w['advice']} "
            f"(`{w['code']}`)"
            for r, w in warned
        ]
    gates = list(report.get("gates") or [])
    if gates:
        failed = [g for g in gates if not g.get("passed")]
        lines += ["", f"**Gates**: {len(gates) - len(failed)} passed, {len(failed)} failed", ""]
        lines += [f"- {g.get('model')} {g.get('case')}: {g.get('message')}" for g in failed]
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


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temp file in the same directory and
    ``os.replace``, so readers see the old file or the new one, never half of one. Creates the
    parent directory; the file gets the usual umask-based permissions."""
    target = Path(path)
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
