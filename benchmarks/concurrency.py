"""Concurrency: 64 and 256 concurrent streams through llmbox's runner against a paced server.

    python benchmarks/concurrency.py [--quick] [--json]

The server (another process) sends each stream's tokens on a fixed schedule (``DECODE_TPS`` per
stream) and records when it received each request and when it wrote each final part, on the
machine-wide monotonic clock. llmbox runs a concurrency case through ``Runner`` exactly as
``llmbox bench --concurrency C`` does; its ``aggregate_tps`` (output tokens / batch wall time) is
compared with the rate the server itself delivered over the same batch (tokens / (last final part
written - first request received)). Client CPU time per 1,000 tokens comes from
``time.process_time()``; open file descriptors and RSS are read after every sweep.

llmbox streams through its fast path (``llmbox.client._wire``: an ``asyncio.Protocol`` that stamps
and decodes each chunk in the read callback) on the event loop the CLI uses. Each error is the
median over the measured batches, with the spread (min-max) beside it: the machine is shared,
and one batch can lose tens of milliseconds to someone else's process.

At saturation (256 streams at 100 tokens/s each) the same batch also runs, interleaved round by
round so that every variant meets the same load: through httpx (``LLMBOX_HTTP=httpx``, the path
before the fast one), on the standard asyncio loop and on uvloop (when installed: ``pip install
'llmbox[fast]'``), and split over two client processes, each with its own event loop and
connections (their throughput: all tokens / (last batch end - first batch start), on the
machine-wide monotonic clock).
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from time import perf_counter_ns

from _common import Figure, log, main, median, open_fds, rss_bytes, server, truths

from llmbox.backends.ollama import OllamaBackend
from llmbox.bench.runner import Runner, RunnerConfig
from llmbox.bench.session import new_report
from llmbox.client import OllamaClient
from llmbox.results import Case, Options

DECODE_TPS = 10.0  # 100 ms per token per stream: 2,560 tok/s at c256, within one core's reach
SATURATION_TPS = 100.0  # 10 ms per token: 25,600 reads/s at c256, more than one core can take
BUDGET_PCT = 3.0
RSS_SLACK = 2 << 20  # allocator noise: growth below 2 MiB is not counted as growth


def _spread(errs: list[float]) -> str:
    return f"median of {len(errs)}, spread {min(errs):.1f}-{max(errs):.1f} %"


async def sweeps(
    base: str, levels: list[int], tokens: int, n_sweeps: int, tps: float
) -> list[Figure]:
    backend = OllamaBackend(OllamaClient(host=base, max_connections=max(levels) + 4))
    runner = Runner(backend, RunnerConfig(runs=1, warmup=0, seed=None))
    rows: dict[int, list[tuple[float, float, float]]] = {c: [] for c in levels}
    fds: list[int] = []
    rss: list[int] = []
    for sweep in range(n_sweeps):
        for c in levels:
            case = Case(label=f"tg{tokens} c{c}", prompt="hello", max_tokens=tokens, concurrency=c)
            report = await new_report(backend, Options())
            truths(base)  # clear
            c0 = time.process_time()
            await runner.run(
                [("bench", case)], report, {"bench": await backend.model_info("bench")}
            )
            cpu = time.process_time() - c0
            batch = report.results[0].batches[0]
            assert batch.failed == 0, report.results[0].runs[0].error
            streams = [t for t in truths(base) if t["eval_count"] == tokens]
            served = sum(t["eval_count"] for t in streams)
            span = max(t["t_done_ns"] for t in streams) - min(t["t_recv_ns"] for t in streams)
            server_tps = served / (span / 1e9)
            rows[c].append((batch.aggregate_tps, server_tps, cpu / batch.output_tokens * 1000))
            log(
                f"concurrency: sweep {sweep + 1}/{n_sweeps} c{c}: llmbox {batch.aggregate_tps:,.0f}"
                f" tok/s, server {server_tps:,.0f} tok/s, client CPU {cpu:.2f} s"
            )
        fds.append(open_fds())
        rss.append(rss_bytes())
    await backend.aclose()

    s = "Concurrency"
    figures = []
    for c in levels:
        measured = rows[c][1:] or rows[c]  # the first sweep warms up
        errs = [abs(llm / srv - 1) * 100 for llm, srv, _ in measured]
        typical = median(errs)
        llm = sum(r[0] for r in measured) / len(measured)
        srv = sum(r[1] for r in measured) / len(measured)
        cpu_k = sum(r[2] for r in measured) / len(measured)
        ideal = c * tps
        ms = 1000 / tps
        figures += [
            Figure(
                s,
                f"c{c} @ {ms:g} ms/token: llmbox aggregate tok/s"
                f" (server delivered {srv:,.0f}, ideal {ideal:,.0f})",
                llm,
                "tok/s",
            ),
            Figure(
                s,
                f"c{c} @ {ms:g} ms/token: llmbox vs server-delivered tok/s, error",
                typical,
                "%",
                f"≤ {BUDGET_PCT:g} %",
                typical <= BUDGET_PCT,
                f"{_spread(errs)}; batches of {c} x {tokens} tokens at {tps:g} tok/s each",
            ),
            Figure(s, f"c{c} @ {ms:g} ms/token: client CPU per 1,000 tokens", cpu_k, "CPU s"),
        ]
    fd_growth = fds[-1] - fds[0]
    rss_growth = rss[-1] - rss[0]
    note = f"after sweep 1 vs after sweep {n_sweeps}"
    figures += [
        Figure(
            s,
            "open file descriptors growth across sweeps",
            fd_growth,
            "fds",
            "0",
            fd_growth <= 0,
            note,
        ),
        Figure(
            s,
            "RSS growth across sweeps",
            rss_growth / 2**20,
            "MiB",
            f"< {RSS_SLACK >> 20} MiB",
            rss_growth < RSS_SLACK,
            note,
        ),
    ]
    return figures


def _loop_runner(loop: str) -> Callable[[Awaitable[object]], object]:
    if loop == "uvloop":
        import uvloop

        return uvloop.run  # type: ignore[no-any-return]
    return asyncio.run  # type: ignore[return-value]


async def _one_batch(
    base: str, c: int, tokens: int, start_ns: int, fast: bool
) -> tuple[int, int, int, float]:
    """One batch of ``c`` streams from this process, started at ``start_ns`` (monotonic)."""
    client = OllamaClient(host=base, max_connections=c + 4, fast=fast)
    backend = OllamaBackend(client)
    runner = Runner(backend, RunnerConfig(runs=1, warmup=0, seed=None))
    case = Case(label=f"tg{tokens} c{c}", prompt="hello", max_tokens=tokens, concurrency=c)
    infos = {"bench": await backend.model_info("bench")}
    report = await new_report(backend, Options())
    warm = case.model_copy(update={"max_tokens": 2})  # opens the pool's connections, untimed
    await runner.run([("bench", warm)], await new_report(backend, Options()), infos)
    await asyncio.sleep(max(0.0, (start_ns - perf_counter_ns()) / 1e9))
    c0 = time.process_time()
    t0 = perf_counter_ns()
    await runner.run([("bench", case)], report, infos)
    batch = report.results[0].batches[0]
    await backend.aclose()
    return t0, t0 + round(batch.wall_s * 1e9), batch.output_tokens, time.process_time() - c0


def _process_batch(args: tuple[str, str, int, int, int, bool]) -> tuple[int, int, int, float]:
    base, loop, c, tokens, start_ns, fast = args
    return _loop_runner(loop)(_one_batch(base, c, tokens, start_ns, fast))  # type: ignore[return-value]


#: The variants compared at saturation: (name, fast path, event loop, client processes).
Variant = tuple[str, bool, str, int]


def split_batch(base: str, c: int, tokens: int, variant: Variant) -> tuple[float, float, float]:
    """One batch of ``c`` streams split over the variant's client processes: (llmbox tok/s,
    server tok/s, client CPU s per 1,000 tokens)."""
    name, fast, loop, procs = variant
    with ProcessPoolExecutor(procs) as pool:
        truths(base)
        start = perf_counter_ns() + 3_000_000_000  # time for every process to get ready
        jobs = [(base, loop, c // procs, tokens, start, fast)] * procs
        parts = list(pool.map(_process_batch, jobs))
    served_streams = [t for t in truths(base) if t["eval_count"] == tokens]
    span = max(t["t_done_ns"] for t in served_streams) - min(t["t_recv_ns"] for t in served_streams)
    server_tps = sum(t["eval_count"] for t in served_streams) / (span / 1e9)
    out = sum(p[2] for p in parts)
    wall = (max(p[1] for p in parts) - min(p[0] for p in parts)) / 1e9
    cpu = sum(p[3] for p in parts)
    err = abs(out / wall / server_tps - 1) * 100
    log(f"concurrency: c{c}, {name}: llmbox {out / wall:,.0f} tok/s, "
        f"server {server_tps:,.0f} tok/s, error {err:.1f} %")  # fmt: skip
    return out / wall, server_tps, cpu / out * 1000


def ecosystem(quick: bool) -> list[Figure]:
    """The saturated case through each variant, interleaved round by round."""
    c, tokens, rounds = (8, 10, 2) if quick else (256, 100, 5)
    uv = importlib.util.find_spec("uvloop") is not None
    best = "uvloop" if uv else "asyncio"
    variants: list[Variant] = [
        ("httpx, asyncio, 1 process", False, "asyncio", 1),
        ("fast path, asyncio, 1 process", True, "asyncio", 1),
        *([("fast path, uvloop, 1 process", True, "uvloop", 1)] if uv else []),
        (f"fast path, {best}, 2 processes", True, best, 2),
    ]
    rows: dict[str, list[tuple[float, float, float]]] = {v[0]: [] for v in variants}
    with server("paced", "--decode-tps", str(SATURATION_TPS)) as base:
        for _ in range(rounds):
            for variant in variants:
                rows[variant[0]].append(split_batch(base, c, tokens, variant))
    figures = []
    for name, got in rows.items():
        errs = [abs(llm / srv - 1) * 100 for llm, srv, _ in got]
        figures.append(
            Figure(
                "Concurrency",
                f"c{c} @ 10 ms/token, {name}: error",
                median(errs),
                "%",
                f"≤ {BUDGET_PCT:g} %",
                median(errs) <= BUDGET_PCT,
                f"{_spread(errs)}; server delivered "
                f"{median([r[1] for r in got]):,.0f} tok/s (ideal {c * SATURATION_TPS:,.0f}); "
                f"client CPU {median([r[2] for r in got]):.3f} s per 1,000 tokens "
                f"(sd {statistics.pstdev([r[2] for r in got]):.3f})",
            )
        )
    return figures


def measure(quick: bool) -> list[Figure]:
    levels, tokens, n_sweeps = ([4, 8], 5, 2) if quick else ([64, 256], 30, 4)
    run = _loop_runner("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    with server("paced", "--decode-tps", str(DECODE_TPS)) as base:
        figures: list[Figure] = run(sweeps(base, levels, tokens, n_sweeps, DECODE_TPS))  # type: ignore[assignment]
    with server("paced", "--decode-tps", str(SATURATION_TPS)) as base:
        tokens = 10 if quick else 100
        saturated: list[Figure] = run(sweeps(base, levels, tokens, 4, SATURATION_TPS))  # type: ignore[assignment]
    return figures + [f for f in saturated if "growth" not in f.name] + ecosystem(quick)


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
