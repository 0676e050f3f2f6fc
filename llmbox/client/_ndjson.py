"""NDJSON framing: split a byte stream on ``\\n`` only, stamping each object with its arrival time.

Ollama's Go encoder does not escape U+0085 (NEL), which ``str.splitlines()`` (and so httpx's
``iter_lines``) treats as a line break; splitting bytes on ``b"\\n"`` is the only safe framing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from time import perf_counter_ns
from typing import Any, NamedTuple


class Part(NamedTuple):
    """One streamed JSON object and the ``perf_counter_ns()`` at which its bytes arrived."""

    t_ns: int
    data: dict[str, Any]


async def iter_ndjson(chunks: AsyncIterator[bytes]) -> AsyncIterator[Part]:
    """Yield each JSON line of ``chunks``; blank lines are skipped, a broken line raises ValueError.

    Objects that arrive in the same network chunk share its arrival time, which is the truth: the
    client could not have seen them any earlier.
    """
    loads = json.loads
    buffer = b""
    async for chunk in chunks:
        t_ns = perf_counter_ns()
        if buffer:
            chunk = buffer + chunk
        if b"\n" not in chunk:
            buffer = chunk
            continue
        *lines, buffer = chunk.split(b"\n")
        for line in lines:
            if line.strip():
                yield Part(t_ns, loads(line))
    if buffer.strip():
        yield Part(perf_counter_ns(), loads(buffer))
