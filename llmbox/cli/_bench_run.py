"""Runs a planned benchmark for the ``bench`` command: progress on stderr, files after each case,
the report on stdout, then the outcome's error (if any) for the one error handler."""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path

from llmbox.bench.plan import Plan
from llmbox.bench.session import GateOptions, History, run_bench
from llmbox.errors import Interrupted, LlmboxError
from llmbox.report.bench_progress import BenchProgress
from llmbox.report.exporters import (
    parse_outputs,
    render,
    stdout_format,
    write_atomic,
    write_outputs,
)
from llmbox.report.output import Output
from llmbox.results import BenchReport


def run_and_print(
    plan: Plan,
    gates: GateOptions,
    history: History,
    *,
    db_flag: str | None,
    tags: Sequence[str] = (),
    fmt: str | None,
    outputs: Sequence[str],
    quiet: bool,
) -> None:
    files = parse_outputs(outputs)
    fmt = stdout_format(fmt, files)
    out = Output(quiet=quiet)

    def checkpoint(report: BenchReport) -> None:
        write_outputs(files, report)

    with BenchProgress(out) as progress:
        outcome = run_bench(plan, gates, on_event=progress, checkpoint=checkpoint, history=history)
    if outcome.report.results:
        out.data(render(fmt, outcome.report))
    elif outcome.error is None:  # every case skipped (see the notes above): say why none is kept
        out.warn("nothing was measured: no results to show, and no run saved")
    if outcome.saved is not None:
        models = " ".join(f"--model {m}" for m in outcome.report.options.models)
        shown = shown_db(db_flag)
        db = f" --db {shlex.quote(shown)}" if shown else ""
        out.info(
            f"saved as run {outcome.saved.id} in {outcome.saved.where} "
            f"(llmbox history show {outcome.saved.id}{db})\n"
            f"report: llmbox report {models}{db} -o report.html"
        )
    if outcome.store_error is not None:
        outcome.store_error = _kept(outcome.store_error, outcome.report, files, db_flag, tags)
    error = outcome.error
    saved = [str(p) for _, p in files if p is not None]
    if isinstance(error, Interrupted) and saved:
        error = type(error)(f"{error.message}; results so far written to {', '.join(saved)}")
    if error is None:
        error = outcome.store_error
    elif outcome.store_error is not None:
        out.warn(f"the run was not saved: {outcome.store_error.message}")
    if error is not None:
        raise error


def shown_db(db: str | None) -> str | None:
    """``--db`` as a command shown to the user repeats it (in a CI log, say): its password
    masked; None for the default store (no flag, or a blank one)."""
    if db is None or not db.strip():
        return None
    from llmbox.store import mask_password

    return mask_password(db.strip())


def import_command(path: Path, db: str | None, tags: Sequence[str]) -> str:
    """The `history import` that adds a kept results file to the store it was meant for, with
    the tags it would have had."""
    shown = shown_db(db)
    argv = ["llmbox", "history", "import", str(path), *(["--db", shown] if shown else [])]
    return shlex.join([*argv, *(a for t in tags for a in ("--tag", t))])


def _kept(
    err: LlmboxError,
    report: BenchReport,
    files: Sequence[tuple[str, Path | None]],
    db: str | None,
    tags: Sequence[str],
) -> LlmboxError:
    """The store could not take the run: say where its results are, so that `history import`
    can add them later (a JSON --output already holds them; else a file is written for it)."""
    path = next((p for f, p in files if f == "json" and p is not None), None)
    if path is None:
        path = _rescue(report)
    if path is None:
        return err
    return type(err)(
        f"{err.message}; the results are kept in {path} (`{import_command(path, db, tags)}` "
        "adds them once the store is back)",
        hint=err.hint,
    )


def _rescue(report: BenchReport) -> Path | None:
    """Write the report to a new JSON file in the current directory (else the temp directory);
    None when neither can be written."""
    stamp = report.started_at.replace(":", "").replace("-", "")[:15] or "run"
    text = render("json", report)
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        path = folder / f"llmbox-bench-{stamp}.json"
        n = 1
        while path.exists():
            n += 1
            path = folder / f"llmbox-bench-{stamp}-{n}.json"
        try:
            write_atomic(path, text)
        except LlmboxError:
            continue
        return path if folder != Path.cwd() else Path(path.name)
    return None
