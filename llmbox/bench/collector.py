"""The client's garbage collector, kept out of measured requests.

CPython's cyclic collector stops the whole process while it runs: a young-generation pass takes
0.1-2 ms on a small VM, a full one tens of ms. Landing inside a streamed answer, that pause is
counted as the server's time (2 ms is a fifth of one inter-token gap at 100 tokens/s). So while a
benchmark measures, automatic collection is off, everything that existed before the first request
(modules, the pre-flight's objects) is frozen and never scanned again, and what the requests
leave behind is collected between them, once enough has piled up. vLLM freezes its server's heap
after start-up for the same reason.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations before a collection between requests: ~7x CPython's automatic threshold, so
#: a run of thousands of requests still frees its cycles as it goes.
DUE = 5000

_lock = threading.Lock()
_depth = 0  # benchmarks measuring now (a fleet runs one per host, on threads)
_owned = False  # whether the first of them turned automatic collection off


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside; ``between_requests`` collects instead. The first of
    several concurrent benchmarks turns it off, the last one on again. A caller that turned the
    collector off itself keeps it off (and nothing is collected)."""
    global _depth, _owned
    with _lock:
        _depth += 1
        if _depth == 1:
            _owned = gc.isenabled()
            if _owned:
                gc.freeze()
                gc.disable()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _owned:
                _owned = False
                gc.enable()
                gc.unfreeze()  # a process that goes on (tests, a library) collects it all again


def between_requests() -> None:
    """Collect what the requests so far left behind, if enough has piled up (outside frozen
    objects, so a full pass is as cheap as a young one)."""
    if _owned and gc.get_count()[0] > DUE:
        gc.collect()
