"""``llmbox history``: the runs the results store remembers, and the regressions among them.

Each subcommand parses its options, calls the store (``llmbox.store``, imported inside the
command) and prints. Only typer and the shared options are imported up front.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmbox.cli._app import DebugOpt
from llmbox.cli._common import QuietOpt

if TYPE_CHECKING:
    from llmbox.errors import Interrupted
    from llmbox.report.columns import Fitted
    from llmbox.store import ChangePoint, RunFilter, RunInfo, Store

HELP = "Browse saved benchmark runs: list with filters, show, rm, import, export, regressions."

history = typer.Typer(
    name="history",
    help=f"{HELP}\n\nEvery `llmbox bench` is saved to the results store (see --db). Without a "
    "subcommand this lists runs, newest first, as `history list` does.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Rows ``history`` prints as a table unless ``--limit`` says otherwise.
TABLE_LIMIT = 20

_FILTERS = "Filters"


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class ShowFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store: sqlite:///PATH (or a file path) or postgresql://USER@HOST[:PORT]/DB. "
        "Default: $LLMBOX_DB, then history.db in the user data directory.",
        show_default=False,
    ),
]
ModelFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", help="Only this model (repeatable; * wildcards).", rich_help_panel=_FILTERS
    ),
]
CaseFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--case", help="Only this case label, e.g. 'pp512 tg128' (repeatable; * wildcards).",
        rich_help_panel=_FILTERS,
    ),
]  # fmt: skip
HostFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--host", help="Only runs against this server (repeatable).", rich_help_panel=_FILTERS
    ),
]
MachineFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--machine",
        help="Only this machine: its hostname (repeatable; * wildcards).",
        rich_help_panel=_FILTERS,
    ),
]
BackendFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--backend", help="Only ollama, openai or embedded (repeatable).", rich_help_panel=_FILTERS
    ),
]
TagFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        help="Only runs tagged KEY=VALUE, or carrying KEY (repeatable: all must match).",
        rich_help_panel=_FILTERS,
    ),
]
SinceFilter = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only runs started since: 2026-11-01, 2026-11-01T09:30, or an age: 12h, 7d, 2w.",
        rich_help_panel=_FILTERS,
        show_default=False,
    ),
]
UntilFilter = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only runs started before this date or age.",
        rich_help_panel=_FILTERS,
        show_default=False,
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        min=0,
        help=f"At most N runs, newest first (0: all). Default: {TABLE_LIMIT} in a table, all "
        "in JSON or CSV.",
        show_default=False,
    ),
]


def _filter(
    model: list[str] | None = None,
    case: list[str] | None = None,
    host: list[str] | None = None,
    machine: list[str] | None = None,
    backend: list[str] | None = None,
    tag: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> RunFilter:
    from llmbox.store import RunFilter, check_backends, parse_tag_filters
    from llmbox.store._report import parse_window

    start, end = parse_window(since, until)
    return RunFilter(
        models=tuple(model or ()),
        cases=tuple(case or ()),
        hosts=tuple(host or ()),
        machines=tuple(machine or ()),
        backends=check_backends(backend or ()),
        tags=parse_tag_filters(tag or []),
        since=start,
        until=end,
    )


def _reading(db: str | None) -> Store:
    """The store to read; a SQLite file named by ``--db`` must exist."""
    from llmbox.store import open_store
    from llmbox.store._url import check_named_file

    check_named_file(db)
    return open_store(db, create=False)


def _unmatched(store: Store, flt: RunFilter) -> str | None:
    from llmbox.store._query import unmatched

    return unmatched(flt, store.count)


def _out(quiet: bool = False) -> Any:
    from llmbox.report.output import Output

    return Output(quiet=quiet)


# -- list -----------------------------------------------------------------------------------------


def _local(stamp: str) -> str:
    """A stored UTC timestamp as local time to the minute."""
    from llmbox.store._store import parse_time

    return parse_time(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _server(info: RunInfo) -> str:
    return f"{info.backend} {info.server_version}" if info.server_version else info.backend


def _tags(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags.items())


#: Columns a narrow terminal loses first (``llmbox history``); id, started and models stay.
RUN_COLUMNS_DROPPED = ("tags", "cases", "server", "machine", "status")


def render_runs_table(runs: list[RunInfo], *, width: int | None = None) -> Fitted:
    """The runs, one a line, fitted to ``width`` (default: the terminal's, see ``fit_table``)."""
    from llmbox.report.columns import cut, fit_table

    rows = []
    for r in runs:
        models = ", ".join(r.models)
        status = f"{r.failed_runs} failed" if r.failed_runs else ""
        status = "interrupted" if r.interrupted else status
        rows.append([
            str(r.id), _local(r.started_at), r.machine, _server(r),
            cut(models, 40),
            str(r.n_results), status, cut(_tags(r.tags), 40),
        ])  # fmt: skip
    return fit_table(
        ["id", "started", "machine", "server", "models", "cases", "status", "tags"],
        rows,
        right=["id", "cases"],
        drop=RUN_COLUMNS_DROPPED,
        squeeze=["models", "machine"],
        width=width,
    )


def _narrowed(out: Any, fitted: Fitted) -> None:
    """Say which columns a narrow terminal hid, so an empty-looking table is not a mystery."""
    if fitted.dropped:
        out.info(f"({', '.join(fitted.dropped)} hidden to fit the terminal; -f csv shows all)")


def render_runs_csv(runs: list[RunInfo]) -> str:
    import csv
    import io

    buf = io.StringIO()
    columns = [
        "id", "started_at", "finished_at", "machine", "backend", "server_kind", "host",
        "server_version", "llmbox_version", "models", "n_results", "failed_runs",
        "interrupted", "source", "saved_at", "tags",
    ]  # fmt: skip
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in runs:
        row = r.to_dict()
        row["models"] = ";".join(r.models)
        row["tags"] = ";".join(f"{k}={v}" for k, v in r.tags.items())
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buf.getvalue()


def _list(db: str | None, flt: RunFilter, limit: int | None, fmt: ListFormat, quiet: bool) -> None:
    import json

    out = _out(quiet)
    if limit is None:
        limit = TABLE_LIMIT if fmt is ListFormat.table else 0
    with _reading(db) as store:
        runs = store.runs(flt, limit=limit or None)
        total = store.count(flt) if fmt is ListFormat.table and len(runs) == limit else len(runs)
        where = store.where
        filtered = flt != type(flt)()
        culprit = _unmatched(store, flt) if not runs and filtered else None
    if not runs:
        if culprit:
            out.info(f"no runs stored in {where} match: {culprit} matches none of them "
                     "(`llmbox history` lists them all)")  # fmt: skip
        elif total or filtered:
            out.info(f"no runs stored in {where} match")
        else:
            out.info(f"no runs stored yet in {where}; `llmbox bench MODEL` records one")
    if fmt is ListFormat.json:
        out.data(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False))
        return
    if fmt is ListFormat.csv:
        out.data(render_runs_csv(runs))
        return
    if not runs:
        return
    fitted = render_runs_table(runs)
    out.data(fitted.text)
    _narrowed(out, fitted)
    more = f"; --limit 0 shows all {total}" if total > len(runs) else ""
    out.info(f"{len(runs)} of {total} run(s) in {where}{more}")


@history.callback()
def _history(
    ctx: typer.Context,
    model: ModelFilter = None,
    case: CaseFilter = None,
    host: HostFilter = None,
    machine: MachineFilter = None,
    backend: BackendFilter = None,
    tag: TagFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    limit: LimitOpt = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ListFormat.table
    ),
    db: DbOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List runs when no subcommand is given (the group's help is ``HELP`` above)."""
    if ctx.invoked_subcommand is None:
        flt = _filter(model, case, host, machine, backend, tag, since, until)
        _list(db, flt, limit, format, quiet)


@history.command("list")
def list_runs(
    model: ModelFilter = None,
    case: CaseFilter = None,
    host: HostFilter = None,
    machine: MachineFilter = None,
    backend: BackendFilter = None,
    tag: TagFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    limit: LimitOpt = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ListFormat.table
    ),
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """List stored runs, newest first: ID, start, machine, server, models, cases, tags."""
    _list(db, _filter(model, case, host, machine, backend, tag, since, until), limit, format, quiet)


# -- show, rm -------------------------------------------------------------------------------------


@history.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="A run ID from `llmbox history`.", min=1)],
    format: Annotated[
        ShowFormat, typer.Option("--format", "-f", help="Output format (json: the saved report).")
    ] = ShowFormat.table,
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Show one stored run: its provenance and results, or its full report as JSON."""
    import json

    from llmbox.report.exporters import render

    out = _out(quiet)
    with _reading(db) as store:
        data = store.report(run_id)
        info = store.info(run_id)
    if format is ShowFormat.json:  # the saved report, exactly (fields a newer llmbox added too)
        out.data(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from llmbox.store._report import validate

    if format is ShowFormat.table:
        server = _server(info) + (f" at {info.host}" if info.host else "")
        out.info(f"run {info.id}: {_local(info.started_at)} on {info.machine}, {server}")
        if info.tags:
            out.info(f"tags: {_tags(info.tags)}")
    out.data(render(format.value, validate(data, f"run {run_id}")))


@history.command("rm")
def rm(
    run_ids: Annotated[list[int], typer.Argument(help="Run IDs to remove.", min=1)],
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Remove stored runs and everything saved with them. Unknown IDs remove nothing."""

    with _reading(db) as store:
        removed = store.delete(run_ids)
        where = store.where
    _out(quiet).info(f"removed run {', '.join(map(str, removed))} from {where}")


# -- import, export -------------------------------------------------------------------------------


@history.command("import")
def import_(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="llmbox.bench/1 JSON files (from bench -f json / --output json:PATH), or "
            "`history export` files; - reads stdin.",
            show_default=False,
        ),
    ],
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Label every imported run KEY=VALUE.")
    ] = None,
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Import saved benchmark results into the store; a report already there is skipped."""
    from llmbox.aio import sigterm_raises
    from llmbox.errors import Interrupted
    from llmbox.report.output import is_tty
    from llmbox.store import open_store, parse_tags
    from llmbox.store._transfer import read_file

    extra = parse_tags(tag or [])
    if any(str(f) == "-" for f in files) and is_tty(sys.stdin):
        from llmbox.errors import UsageError

        raise UsageError(
            "`history import -` reads results piped to stdin, and stdin is a terminal",
            hint="pipe them in (llmbox history export | llmbox history import --db URL -) or "
            "name the files",
        )
    loaded = [(path, read_file(path)) for path in files]  # all valid before any is saved
    out = _out(quiet)
    added = skipped = 0
    total = sum(len(entries) for _, entries in loaded)
    with sigterm_raises(), open_store(db) as store:
        where = store.where
        try:
            for path, entries in loaded:
                name = "stdin" if str(path) == "-" else str(path)
                for entry in entries:
                    tags = {**entry.tags, **extra}
                    saved = store.save(entry.report, tags=tags, source=entry.source or "import")
                    added += saved.created
                    skipped += not saved.created
                    if saved.created:
                        out.info(f"{name}: imported as run {saved.id}")
                    else:  # the store keeps the run as first saved, tags included
                        kept = ", its tags unchanged" if tag else ""
                        out.info(f"{name}: already stored as run {saved.id}{kept}")
        except KeyboardInterrupt:
            raise _stopped(Interrupted, "interrupted", added + skipped, total, where) from None
        except Interrupted as err:  # SIGTERM
            raise _stopped(type(err), err.message, added + skipped, total, where) from None
    out.info(f"{added} imported, {skipped} already there, into {where}")


def _stopped(kind: type[Interrupted], why: str, done: int, total: int, where: str) -> Interrupted:
    """An import stopped part-way: each run is saved whole or not at all, and a rerun skips the
    ones already there, so the way on is to run it again."""
    return kind(
        f"{why}: at least {done} of {total} run(s) are in {where}, each saved whole",
        hint="run the same command again to import the rest; runs already stored are skipped",
    )


@history.command("export")
def export(
    model: ModelFilter = None,
    case: CaseFilter = None,
    host: HostFilter = None,
    machine: MachineFilter = None,
    backend: BackendFilter = None,
    tag: TagFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
    ] = None,
    format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="jsonl: one run a line; json: one array."),
    ] = ExportFormat.jsonl,
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Export stored runs with their tags, oldest first; `history import` reads the file back.

    Moves runs between stores, e.g. from a laptop to a team PostgreSQL:
    llmbox history export | llmbox history import --db postgresql://HOST/DB -
    """
    from llmbox.store._transfer import export as write_runs

    flt = _filter(model, case, host, machine, backend, tag, since, until)
    from llmbox.aio import sigterm_raises

    array = format is ExportFormat.json
    with sigterm_raises(), _reading(db) as store:
        if output is None:
            try:
                n = write_runs(store, flt, sys.stdout.write, array=array)
                sys.stdout.flush()
            except BrokenPipeError:  # `| head`: the reader has seen enough
                import os

                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return
            except OSError as err:
                from llmbox.report.output import stdout_failed

                raise stdout_failed(err) from None
        else:
            from llmbox.report.static import check_output, save_text

            check_output(output)
            chunks: list[str] = []
            n = write_runs(store, flt, chunks.append, array=array)
            save_text(output, "".join(chunks))
        where = store.where
    _out(quiet).info(f"exported {n} run(s) from {where}" + (f" to {output}" if output else ""))


# -- regressions ----------------------------------------------------------------------------------


def _p(value: float) -> str:
    """A p-value to one digit; one too small to print is a bound, not 0.

    >>> _p(0.0032), _p(0.0), _p(2e-12)
    ('0.003', '<1e-04', '<1e-04')
    """
    return f"{value:.1g}" if value >= 1e-4 else "<1e-04"


#: Columns a narrow terminal loses first (``history regressions``); model, case, metric,
#: and change stay.
CHANGE_COLUMNS_DROPPED = (
    "server", "runs", "p", "backend", "machine", "when", "before", "after", "status",
)  # fmt: skip


def render_changes_table(changes: list[ChangePoint], *, width: int | None = None) -> Fitted:
    from llmbox.bench.fields import fmt_value
    from llmbox.report.columns import fit_table

    rows = []
    for c in changes:
        server = c.server_after or ""
        if c.server_before != c.server_after:
            server = f"{c.server_before or '?'} → {c.server_after or '?'}"
        status = c.kind if c.kind == "improvement" else ("open" if c.open else "recovered")
        rows.append([
            _local(c.at), c.model, c.case, c.machine, c.backend, c.metric,
            fmt_value(c.metric, c.before_mean), fmt_value(c.metric, c.after_mean),
            f"{c.change_pct:+.1f}%", _p(c.p_value), f"{c.before_run} → {c.after_run}",
            server, status,
        ])  # fmt: skip
    return fit_table(
        ["when", "model", "case", "machine", "backend", "metric", "before", "after", "change",
         "p", "runs", "server", "status"],
        rows,
        right=["before", "after", "change", "p"],
        drop=CHANGE_COLUMNS_DROPPED,
        squeeze=["model", "case", "metric"],
        width=width,
    )  # fmt: skip


@history.command("regressions")
def regressions(
    model: ModelFilter = None,
    case: CaseFilter = None,
    host: HostFilter = None,
    machine: MachineFilter = None,
    backend: BackendFilter = None,
    tag: TagFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Metric to check (repeatable) [default: decode_tps, prefill_tps, ttft_s].",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[
        float,
        typer.Option(help="Significance level of the Welch t-test confirming a change (≤ 0.5)."),
    ] = 0.01,
    min_effect: Annotated[
        float,
        typer.Option("--min-effect", help="Smallest change of the mean that counts, in percent."),
    ] = 5.0,
    all_changes: Annotated[
        bool,
        typer.Option("--all", help="Also list improvements and regressions since recovered."),
    ] = False,
    fail_on_regression: Annotated[
        bool,
        typer.Option("--fail-on-regression", help="Exit 5 if a regression is still open (for CI)."),
    ] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ListFormat.table
    ),
    db: DbOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Find regressions: change points over time in each model × case × machine × backend.

    A change is a step in the run means, confirmed by a Welch t-test on the per-request values
    (--alpha) and a minimum effect (--min-effect); see docs/history.md. A regression stays open
    while the latest runs are still worse.
    """
    import json

    from llmbox.bench.fields import METRICS
    from llmbox.errors import GateFailed, UsageError
    from llmbox.store import find_regressions
    from llmbox.store.regress import DEFAULT_METRICS

    metrics = tuple(metric or DEFAULT_METRICS)
    if unknown := [m for m in metrics if m not in METRICS]:
        raise UsageError(f"unknown metric {unknown[0]!r}", hint=f"one of {', '.join(METRICS)}")
    from llmbox.store._report import parse_window

    start, _ = parse_window(since, until)  # the history before --since still counts: see below
    flt = _filter(model, case, host, machine, backend, tag, since=None, until=until)
    with _reading(db) as store:
        changes = find_regressions(
            store, flt, metrics=metrics, alpha=alpha, min_effect=min_effect / 100
        )
        where = store.where
    if start is not None:
        changes = [c for c in changes if c.at >= start]
    open_ = [c for c in changes if c.kind == "regression" and c.open]
    shown = changes if all_changes else open_
    out = _out(quiet)
    if format is ListFormat.json:
        out.data(json.dumps([c.to_dict() for c in shown], indent=2, ensure_ascii=False))
    elif format is ListFormat.csv:
        out.data(_changes_csv(shown))
    elif shown:
        fitted = render_changes_table(shown)
        out.data(fitted.text)
        _narrowed(out, fitted)
    if format is ListFormat.table or not shown:
        out.info(
            f"{len(open_)} open regression(s) in {where}"
            + ("" if all_changes else f" ({len(changes) - len(open_)} other change(s): --all)")
        )
    if fail_on_regression and open_:
        raise GateFailed(
            f"{len(open_)} open regression(s): "
            + "; ".join(f"{c.model} {c.case} {c.metric} {c.change_pct:+.1f}%" for c in open_[:3])
            + (" …" if len(open_) > 3 else ""),
            hint="llmbox history regressions lists them; llmbox history show ID shows a run",
        )


def _changes_csv(changes: list[ChangePoint]) -> str:
    import csv
    import io
    from dataclasses import fields

    from llmbox.store import ChangePoint

    columns = [f.name for f in fields(ChangePoint)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for c in changes:
        row = c.to_dict()
        writer.writerow(["" if row[k] is None else row[k] for k in columns])
    return buf.getvalue()
