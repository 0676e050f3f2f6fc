"""Pull progress on stderr: rich bars on a terminal, a few plain lines per layer otherwise.

Both views are ``PullEvent`` sinks (callables) with ``close()``; ``current`` names the model being
pulled, so an interrupted command can say which partial download it kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from llmbox.provision import (
    LayerProgress,
    PullEvent,
    PullFinished,
    PullRetry,
    PullStarted,
    PullStatus,
)
from llmbox.report.output import write_lines
from llmbox.report.terminal import human_bytes

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

#: The plain view prints a layer when it first appears and as it crosses each of these percentages.
PLAIN_STEPS = (0, 25, 50, 75, 100)


class PullView:
    """Base: remembers the model in flight and drops repeated status lines."""

    def __init__(self, *, prefix_model: bool = True) -> None:
        self.current: str | None = None
        self.prefix_model = prefix_model
        self._last_status: dict[str, str] = {}

    def __call__(self, event: PullEvent) -> None:
        if isinstance(event, PullStarted):
            self.current = event.model
            self._last_status.pop(event.model, None)
            self.started(event)
        elif isinstance(event, PullStatus):
            if self._last_status.get(event.model) != event.status:
                self._last_status[event.model] = event.status
                self.status(event)
        elif isinstance(event, LayerProgress):
            self._last_status.pop(event.model, None)
            self.layer(event)
        elif isinstance(event, PullRetry):
            self.retry(event)
        elif isinstance(event, PullFinished):
            self.finished(event)
            self.current = None

    def label(self, model: str, text: str) -> str:
        return f"{model}: {text}" if self.prefix_model else text

    def retry_text(self, event: PullRetry) -> str:
        return (
            f"{event.error} — retry {event.attempt} of {event.retries} in {event.delay_s:g}s "
            "(the download resumes where it stopped)"
        )

    def started(self, event: PullStarted) -> None: ...
    def status(self, event: PullStatus) -> None: ...
    def layer(self, event: LayerProgress) -> None: ...
    def retry(self, event: PullRetry) -> None: ...
    def finished(self, event: PullFinished) -> None: ...
    def close(self) -> None: ...


class PlainPullView(PullView):
    """For CI logs: status lines as they come, each layer at 0/25/50/75/100 % only."""

    def __init__(self, stream: TextIO, *, prefix_model: bool = True) -> None:
        super().__init__(prefix_model=prefix_model)
        self.stream = stream
        self._step: dict[tuple[str, str], int] = {}

    def _write(self, line: str) -> None:
        write_lines(self.stream, line + "\n")

    def status(self, event: PullStatus) -> None:
        self._write(self.label(event.model, event.status))

    def layer(self, event: LayerProgress) -> None:
        if event.total <= 0:
            return
        pct = min(100.0, 100.0 * event.completed / event.total)
        step = max(s for s in PLAIN_STEPS if s <= pct)
        key = (event.model, event.digest)
        if key in self._step and self._step[key] >= step:
            return
        self._step[key] = step
        done = f"{human_bytes(event.completed)} / {human_bytes(event.total)}"
        self._write(self.label(event.model, f"pulling {event.short_digest} {step:3d}%  {done}"))

    def retry(self, event: PullRetry) -> None:
        self._write(self.label(event.model, self.retry_text(event)))


class RichPullView(PullView):
    """For a terminal: one bar per layer digest (bytes done/total, speed, ETA) under status lines.

    A fresh set of bars per model; finished bars stay on screen. ``get_time`` and
    ``auto_refresh=False`` let tests drive the clock instead of sleeping.
    """

    def __init__(
        self,
        console: Console,
        *,
        prefix_model: bool = True,
        get_time: Callable[[], float] | None = None,
        auto_refresh: bool = True,
    ) -> None:
        super().__init__(prefix_model=prefix_model)
        self.console = console
        self.get_time = get_time
        self.auto_refresh = auto_refresh
        self.progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def _bars(self) -> Progress:
        if self.progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                get_time=self.get_time,
                auto_refresh=self.auto_refresh,
            )
            self.progress.start()
            self._tasks = {}
        return self.progress

    def _print(self, text: str, style: str | None = None) -> None:
        target = self.progress.console if self.progress is not None else self.console
        target.print(text, style=style, highlight=False, markup=False)

    def status(self, event: PullStatus) -> None:
        self._bars()
        self._print(self.label(event.model, event.status))

    def layer(self, event: LayerProgress) -> None:
        bars = self._bars()
        total = event.total or None
        task = self._tasks.get(event.digest)
        if task is None:
            task = bars.add_task(f"pulling {event.short_digest}", total=total)
            self._tasks[event.digest] = task
        bars.update(task, total=total, completed=event.completed)
        if not self.auto_refresh:
            bars.refresh()

    def retry(self, event: PullRetry) -> None:
        self._print(self.label(event.model, self.retry_text(event)), style="yellow")

    def finished(self, event: PullFinished) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
