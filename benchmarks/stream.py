"""Stream ingestion: tokens/s llmbox's client parses and timestamps, against a plain httpx loop.

    python benchmarks/stream.py [--quick] [--json]

A fast local server (another process, so it does not share the client's core) streams one
Ollama ``/api/chat`` part per HTTP chunk as fast as it can. llmbox's path is what ``llmbox bench``
runs for each request: ``OllamaBackend.generate`` over ``OllamaClient.chat`` (NDJSON framing,
``perf_counter_ns`` stamp, JSON decoding, error/done checks, the token clock). The baseline is a
plain ``httpx`` byte loop that only splits lines. Trials alternate between the two; medians.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from _common import Figure, log, main, median, server

from llmbox.backends.base import GenRequest
from llmbox.backends.ollama import OllamaBackend
from llmbox.client import OllamaClient

BUDGET_RATIO = 0.8


async def llmbox_trial(base: str, tokens: int) -> tuple[float, float]:
    """(wall s, CPU s) for one stream of ``tokens`` parts through OllamaBackend."""
    backend = OllamaBackend(OllamaClient(host=base))
    request = GenRequest(model="bench", prompt="go", max_tokens=tokens)
    await backend.generate(GenRequest(model="bench", prompt="warm", max_tokens=8))
    c0, t0 = time.process_time(), time.perf_counter()
    sample = await backend.generate(request)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await backend.aclose()
    assert sample.eval_count == tokens
    assert sample.ttft_s is not None
    return wall, cpu


async def plain_trial(base: str, tokens: int) -> tuple[float, float]:
    """(wall s, CPU s) for the same stream read by a bare httpx loop that splits lines."""
    body = {"model": "bench", "messages": [{"role": "user", "content": "go"}], "stream": True}
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=None) as http:

        async def one(n: int) -> int:
            lines = 0
            buffer = b""
            payload = {**body, "options": {"num_predict": n}}
            async with http.stream("POST", "/api/chat", json=payload) as response:
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    *done, buffer = buffer.split(b"\n")
                    lines += len(done)
            return lines

        await one(8)
        c0, t0 = time.process_time(), time.perf_counter()
        lines = await one(tokens)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert lines == tokens + 1
    return wall, cpu


def measure(quick: bool) -> list[Figure]:
    tokens, trials = (2_000, 2) if quick else (60_000, 5)
    walls: dict[str, list[float]] = {"llmbox": [], "plain": []}
    cpus: dict[str, list[float]] = {"llmbox": [], "plain": []}
    with server("fast") as base:
        for trial in range(trials):
            for name, fn in (("plain", plain_trial), ("llmbox", llmbox_trial)):
                wall, cpu = asyncio.run(fn(base, tokens))
                walls[name].append(wall)
                cpus[name].append(cpu)
            log(f"stream: trial {trial + 1}/{trials}")
    tps = {k: tokens / median(v) for k, v in walls.items()}
    ratio = tps["llmbox"] / tps["plain"]
    s = "Stream ingestion"
    return [
        Figure(s, "llmbox client: tokens/s parsed and timestamped", tps["llmbox"], "tok/s"),
        Figure(s, "plain httpx line-splitting loop: tokens/s", tps["plain"], "tok/s"),
        Figure(
            s,
            "llmbox / plain loop throughput",
            ratio,
            "×",
            f"≥ {BUDGET_RATIO}×",
            ratio >= BUDGET_RATIO,
        ),
        Figure(s, "llmbox per-token cost (wall)", 1e6 / tps["llmbox"], "µs/token"),
        Figure(s, "plain loop per-token cost (wall)", 1e6 / tps["plain"], "µs/token"),
        Figure(
            s,
            "llmbox per-token CPU cost",
            median(cpus["llmbox"]) / tokens * 1e6,
            "µs/token",
            note=f"{tokens:,} tokens per stream, median of {trials}",
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
