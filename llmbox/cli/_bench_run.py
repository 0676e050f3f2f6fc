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


def run_and_print(
    plan: Plan, gates: GateOptions, *, fmt: str | None, outputs: Sequence[str], quiet: bool
) -> None:
    files = parse_outputs(outputs)
    fmt = stdout_format(fmt, files)
    out = Output(quiet=quiet)

    def checkpoint(report: BenchReport) -> None:
        write_outputs(files, report)

    with BenchProgress(out) as progress:
        outcome = run_bench(plan, gates, on_event=progress, checkpoint=checkpoint)
    if outcome.report.results:
        out.data(render(fmt, outcome.report))
    error = outcome.error
    saved = [str(p) for _, p in files if p is not None]
    if isinstance(error, Interrupted) and saved:
        error = type(error)(f"{error.message}; results so far written to {', '.join(saved)}")
    if error is not None:
        raise error
