"""One decode-rate convention whatever reports the counts: llama.cpp's `timings`, Ollama's
`eval_duration` and a plain OpenAI `usage` block give the same tok/s for the same stream."""

from __future__ import annotations

import pytest

from llmbox.backends.base import TokenClock
from llmbox.backends.openai import sample_from_stream_end
from llmbox.bench.metrics import decode_tps
from llmbox.results import RunSample

MS = 1_000_000


def _stream(n: int, gap_ms: float, first_ms: float = 300.0) -> TokenClock:
    clock = TokenClock(0)
    for i in range(n):
        clock.token(round((first_ms + i * gap_ms) * MS), answer=True)
    return clock


@pytest.mark.parametrize("n", [2, 64, 500])
def test_timings_and_usage_paths_agree(n: int) -> None:
    clock = _stream(n, gap_ms=10.0)
    span_ms = (n - 1) * 10.0  # first token to last: what llama.cpp's predicted_ms measures
    timed = RunSample()
    sample_from_stream_end(timed, usage=None, chunks=n, clock=clock,
                           timings={"prompt_n": 100, "prompt_ms": 300.0,
                                    "predicted_n": n, "predicted_ms": span_ms})  # fmt: skip
    counted = RunSample()
    sample_from_stream_end(counted, usage={"prompt_tokens": 100, "completion_tokens": n},
                           timings=None, chunks=n, clock=clock)  # fmt: skip
    assert counted.counts_source == "usage"
    assert timed.counts_source == "server"
    assert decode_tps(counted) == pytest.approx(decode_tps(timed), rel=1e-6)
    # the convention: eval_count / (first → last token), as Ollama and llama.cpp report it
    assert decode_tps(timed) == pytest.approx(n / (span_ms / 1000))
