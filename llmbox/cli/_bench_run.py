"""Runs a planned benchmark for the ``bench`` command: progress on stderr, files after each case,
the report on stdout, then the outcome's error (if any) for the one error handler."""

from __future__ import annotations

from collections.abc import Sequence

from llmbox.bench.plan import Plan
from llmbox.bench.session import GateOptions, run_bench
from llmbox.errors import Interrupted
from llmbox.report.bench_progress import BenchProgress
from llmbox.report.exporters import parse_outputs, render, stdout_format, write_outputs
from llmbox.report.output import Output
from llmbox.results import BenchReport
from llmbox.store.bench import StoreHistory


def run_and_print(
    plan: Plan,
    gates: GateOptions,
    history: StoreHistory,
    *,
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
    if outcome.saved is not None:
        models = " ".join(f"--model {m}" for m in outcome.report.options.models)
        db = f" --db {history.db}" if history.db else ""
        out.info(
            f"saved as run {outcome.saved.id} in {outcome.saved.where} "
            f"(llmbox history show {outcome.saved.id}{db})\n"
            f"report: llmbox report {models}{db} -o report.html"
        )
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
