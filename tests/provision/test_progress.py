"""Both pull renderings, driven by events and a fake clock: plain lines for CI, bars on a TTY."""

from __future__ import annotations

import io
import re

from rich.console import Console

from llmbox.provision import (
    LayerProgress,
    PullEvent,
    PullFinished,
    PullResult,
    PullRetry,
    PullStarted,
    PullStatus,
)
from llmbox.report.progress import PlainPullView, PullView, RichPullView
from tests.provision._mock import DIGEST_A, DIGEST_B

GB = 1_000_000_000
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _download(model: str = "llama3.2", steps: int = 200) -> list[PullEvent]:
    """A 2 GB layer reported ``steps`` times (Ollama reports every ~60 ms), then a small one."""
    events: list[PullEvent] = [PullStarted(model, 1), PullStatus(model, "pulling manifest")]
    events += [
        LayerProgress(model, DIGEST_A, 2 * GB, 2 * GB * i // steps) for i in range(steps + 1)
    ]
    events.append(LayerProgress(model, DIGEST_B, 1429, 1429))
    events += [
        PullStatus(model, s) for s in ("verifying sha256 digest", "writing manifest", "success")
    ]
    return events


def test_plain_view_prints_each_layer_at_quarter_steps_only() -> None:
    out = io.StringIO()
    view = PlainPullView(out)
    for event in _download():
        view(event)
    lines = out.getvalue().splitlines()
    assert lines == [
        "llama3.2: pulling manifest",
        "llama3.2: pulling aaaaaaaaaaaa   0%  0 B / 2.0 GB",
        "llama3.2: pulling aaaaaaaaaaaa  25%  500.0 MB / 2.0 GB",
        "llama3.2: pulling aaaaaaaaaaaa  50%  1.0 GB / 2.0 GB",
        "llama3.2: pulling aaaaaaaaaaaa  75%  1.5 GB / 2.0 GB",
        "llama3.2: pulling aaaaaaaaaaaa 100%  2.0 GB / 2.0 GB",
        "llama3.2: pulling bbbbbbbbbbbb 100%  1.4 KB / 1.4 KB",
        "llama3.2: verifying sha256 digest",
        "llama3.2: writing manifest",
        "llama3.2: success",
    ]


def test_plain_view_after_a_retry_resumes_without_repeating_lines() -> None:
    out = io.StringIO()
    view = PlainPullView(out)
    m = "m"
    for event in [
        PullStarted(m, 1),
        PullStatus(m, "pulling manifest"),
        LayerProgress(m, DIGEST_A, 100, 0),
        LayerProgress(m, DIGEST_A, 100, 30),
        PullRetry(m, 1, 3, 1.0, "connection lost mid-stream"),
        PullStarted(m, 2),
        PullStatus(m, "pulling manifest"),
        LayerProgress(m, DIGEST_A, 100, 30),
        LayerProgress(m, DIGEST_A, 100, 100),
    ]:
        view(event)
    text = out.getvalue()
    assert text.count("pulling manifest") == 2
    assert text.count(" 25%") == 1
    assert "m: connection lost mid-stream — retry 1 of 3 in 1s" in text
    assert text.rstrip().endswith("100%  100 B / 100 B")


def test_plain_view_skips_layers_of_unknown_size_and_dedupes_statuses() -> None:
    out = io.StringIO()
    view = PlainPullView(out, prefix_model=False)
    for event in [
        PullStatus("m", "pulling manifest"),
        PullStatus("m", "pulling manifest"),
        LayerProgress("m", DIGEST_A, 0, 0),
    ]:
        view(event)
    assert out.getvalue() == "pulling manifest\n"


def test_view_tracks_the_model_in_flight() -> None:
    view = PullView()
    view(PullStarted("a", 1))
    assert view.current == "a"
    view(PullFinished(PullResult("a", True, 1.0)))
    assert view.current is None


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_rich_view_draws_one_bar_per_layer_with_bytes_speed_and_eta() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    clock = _Clock()
    view = RichPullView(console, get_time=clock, auto_refresh=False)
    m = "llama3.2"
    view(PullStarted(m, 1))
    view(PullStatus(m, "pulling manifest"))
    for i in range(5):  # 100 MB per second for 4 seconds, as the fake clock says
        clock.t = float(i)
        view(LayerProgress(m, DIGEST_A, 2 * GB, i * 100_000_000))
    view(LayerProgress(m, DIGEST_B, 1429, 1429))
    mid = ANSI.sub("", buffer.getvalue())
    assert "pulling aaaaaaaaaaaa" in mid
    assert "0.4/2.0 GB" in mid
    assert "100.0 MB/s" in mid
    assert "0:00:16" in mid  # 1.6 GB left at 100 MB/s
    assert "pulling bbbbbbbbbbbb" in mid
    assert "1.4/1.4 kB" in mid
    view(PullRetry(m, 1, 3, 2.0, "connection lost"))
    for s in ("verifying sha256 digest", "writing manifest", "success"):
        view(PullStatus(m, s))
    view(PullFinished(PullResult(m, True, 4.0)))
    text = ANSI.sub("", buffer.getvalue())
    assert view.progress is None  # stopped when the model finished
    for line in ("llama3.2: pulling manifest", "llama3.2: verifying sha256 digest",
                 "llama3.2: writing manifest", "llama3.2: success"):  # fmt: skip
        assert line in text
    assert "connection lost — retry 1 of 3 in 2s" in text
    assert "\x1b[" in buffer.getvalue()  # drawn as a live terminal display


def test_rich_view_starts_fresh_bars_for_the_next_model() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    view = RichPullView(console, get_time=_Clock(), auto_refresh=False)
    for model in ("a", "b"):
        view(PullStarted(model, 1))
        view(LayerProgress(model, DIGEST_A, 100, 100))
        first = view.progress
        view(PullFinished(PullResult(model, True, 1.0)))
        assert first is not None
        assert len(first.tasks) == 1
