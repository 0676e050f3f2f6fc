"""Benchmark progress on stderr: a live line on a terminal, a few plain lines otherwise."""

from __future__ import annotations

from typing import Any

from llmbox.bench.runner import CaseFinished, CaseStarted, Event, Note, RunFinished
from llmbox.report.output import Output


def _fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class BenchProgress:
    """Turns runner events into progress output; ``close()`` must be called at the end."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._live: Any = None
        self._task: Any = None
        self._advised: set[str] = set()  # warning codes whose advice was printed
        if out.progress_enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._live = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=out.progress_console(),
                transient=True,
            )
            self._live.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, CaseStarted):
            desc = f"[{event.index}/{event.total}] {event.model} {event.case.label}"
            if self._live is not None:
                if self._task is not None:
                    self._live.remove_task(self._task)
                self._task = self._live.add_task(desc, total=event.requests)
            else:
                self.out.info(f"{desc}: {event.requests} requests")
        elif isinstance(event, RunFinished):
            if self._live is not None and self._task is not None:
                self._live.update(self._task, completed=event.done)
            if not event.sample.ok:
                self._print(f"run failed: {event.sample.error}")
        elif isinstance(event, CaseFinished):
            self._case_done(event)
        elif isinstance(event, Note):
            self._print(event.message)

    def _print(self, message: str) -> None:
        if self._live is not None:
            self._live.console.print(message, markup=False, highlight=False)
        else:
            self.out.info(message)

    def _case_done(self, event: CaseFinished) -> None:
        r = event.result
        s = r.summary
        decode = s["decode_tps"].mean if "decode_tps" in s else None
        prefill = s["prefill_tps"].mean if "prefill_tps" in s else None
        line = (
            f"{r.model} {r.case.label}: prefill {_fmt_rate(prefill)} tok/s, "
            f"decode {_fmt_rate(decode)} tok/s"
        )
        if r.failed:
            line += f", {r.failed} failed"
        if not self.out.quiet:
            self._print(line)
            for w in r.warnings:
                # The same advice once per benchmark, however many cases it applies to.
                advice = "" if w.code in self._advised else f" — {w.advice}"
                self._advised.add(w.code)
                self._print(f"Warning: {r.model} {r.case.label}: {w.message}{advice}")

    def __enter__(self) -> BenchProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
