"""Server-sent events as OpenAI-compatible servers send them, parsed exactly.

Lines end in LF or CRLF; an event ends at a blank line; ``data:`` lines carry JSON (several are
joined with ``\\n``); ``data: [DONE]`` ends the stream; lines starting with ``:`` are comments
(llama.cpp and sse-starlette keep-alives); older llama.cpp builds send mid-stream errors as an
``error:`` field instead of ``data:``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from time import perf_counter_ns
from typing import Any

from llmbox.client._ndjson import Part, malformed

DONE: dict[str, Any] = {"__done__": True}


def _event(field: str, payload: str) -> dict[str, Any]:
    if field == "data" and payload.strip() == "[DONE]":
        return DONE
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise malformed(payload.encode(), err) from None
    if field == "error":
        return {"error": data}
    return data if isinstance(data, dict) else {"value": data}


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as err:
        raise malformed(raw, err) from None


async def iter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[Part]:
    """Yield each event's JSON (``DONE`` for ``[DONE]``) stamped with its arrival time; an event
    that is not JSON, or bytes that are not UTF-8, raise StreamError."""
    buffer = b""
    field: str | None = None
    lines: list[str] = []
    async for chunk in chunks:
        t_ns = perf_counter_ns()
        buffer += chunk
        if b"\n" not in buffer:
            continue
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            line = _text(raw)
            if not line:
                if lines and field is not None:
                    yield Part(t_ns, _event(field, "\n".join(lines)))
                field, lines = None, []
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                if name in ("data", "error"):
                    field = name
                    lines.append(value[1:] if value.startswith(" ") else value)
                elif line.startswith("<"):  # markup, where field names should be
                    raise malformed(raw, "not an event stream")
    tail = _text(buffer)
    if tail.startswith("<"):
        raise malformed(buffer, "not an event stream")
    if tail.startswith(("data:", "error:")):
        name, _, value = tail.partition(":")
        field, lines = name, [*lines, value.lstrip(" ")]
    if lines and field is not None:
        yield Part(perf_counter_ns(), _event(field, "\n".join(lines)))
