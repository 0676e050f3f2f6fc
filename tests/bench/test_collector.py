"""The client's garbage collector stays out of measured requests, and still frees their cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from llmbox.backends.base import GenRequest
from llmbox.bench import collector
from llmbox.bench.grid import GridOptions
from llmbox.results import RunSample
from tests.bench.test_runner import ScriptedBackend, _run


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


class GarbageBackend(ScriptedBackend):
    """Each request leaves 3,000 cyclic objects behind, and notes every collection that started
    while it was in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.inside: list[int] = []
        self.between: list[int] = []
        self.alive: list[weakref.ref[_Node]] = []

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            (self.inside if self.busy else self.between).append(info["generation"])

    async def generate(self, request: GenRequest) -> RunSample:
        self.busy = True
        try:
            nodes = [_Node() for _ in range(3000)]  # the response's parsing, say
            self.alive += [weakref.ref(n) for n in nodes[::500]]
            del nodes
            await asyncio.sleep(0)
            return await super().generate(request)
        finally:
            self.busy = False


def _bench(backend: GarbageBackend, **config: Any) -> None:
    from llmbox.bench.runner import RunnerConfig

    gc.callbacks.append(backend.on_gc)
    try:
        _run(backend, ["m"], GridOptions(max_tokens=[8], **config), RunnerConfig(runs=12, warmup=0))
    finally:
        gc.callbacks.remove(backend.on_gc)


def test_no_collection_starts_inside_a_measured_request() -> None:
    backend = GarbageBackend()
    _bench(backend)
    assert backend.inside == []  # CPython's default would start one every ~700 allocations
    assert backend.between, "what the requests left was never collected"
    assert sum(r() is not None for r in backend.alive) <= len(backend.alive) // 2
    assert gc.isenabled()  # the process is as it was
    assert gc.get_freeze_count() == 0


def test_under_load_collections_are_rare_and_still_free_the_cycles() -> None:
    backend = GarbageBackend()
    _bench(backend, concurrency=[4])
    # 48 requests x 3,000 objects: ~200 automatic passes would land among them by default
    assert len(backend.inside) + len(backend.between) <= 48 * 3000 // collector.DUE + 1
    assert sum(r() is not None for r in backend.alive) <= len(backend.alive) // 2


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    backend = GarbageBackend()
    gc.disable()
    try:
        _bench(backend)
        assert not gc.isenabled()
        assert backend.inside == backend.between == []
    finally:
        gc.enable()


def test_concurrent_benchmarks_keep_it_off_until_the_last_one_ends() -> None:
    # A fleet bench runs one session per host on threads: the first to start may finish first,
    # and must not turn automatic collection back on under the others' requests.
    import threading

    inside, first_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def slow_host() -> None:
        with collector.paused():
            inside.set()
            first_done.wait(10)
            seen.append(gc.isenabled())

    with collector.paused():  # the first host
        slow = threading.Thread(target=slow_host)
        slow.start()
        inside.wait(10)
    first_done.set()
    slow.join(10)
    assert seen == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
