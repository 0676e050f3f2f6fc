"""Stream framing and the client's error chokepoint, through an injected transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from llmbox.client import OllamaClient, iter_ndjson
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable, StreamError


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


def _collect(*parts: bytes) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        return [p.data async for p in iter_ndjson(_chunks(*parts))]

    return asyncio.run(go())


def test_part_split_across_network_chunks_is_joined() -> None:
    assert _collect(b'{"a": 1}\n{"b"', b': 2}\n{"c": 3}', b"\n") == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_nel_inside_a_string_does_not_split_the_line() -> None:
    # Go's encoder leaves U+0085 raw; str.splitlines() would break this line in two.
    line = json.dumps({"response": "a\u0085b\u2028c"}, ensure_ascii=False).encode() + b"\n"
    assert _collect(line) == [{"response": "a\u0085b\u2028c"}]


def test_blank_lines_are_skipped_and_last_line_without_newline_is_kept() -> None:
    assert _collect(b'{"a": 1}\n\n', b'\n{"b": 2}') == [{"a": 1}, {"b": 2}]


def test_parts_carry_non_decreasing_arrival_times() -> None:
    async def go() -> list[int]:
        return [p.t_ns async for p in iter_ndjson(_chunks(b'{"a":1}\n', b'{"a":2}\n'))]

    times = asyncio.run(go())
    assert times[0] <= times[1]


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> OllamaClient:
    return OllamaClient(host="http://fake:11434", transport=httpx.MockTransport(handler))


def _ndjson(*objs: dict[str, object]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def _consume(client: OllamaClient, body: dict[str, object]) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        async with client:
            return [p.data async for p in client.generate(body)]

    return asyncio.run(go())


def test_error_line_after_200_raises_with_server_message() -> None:
    body = _ndjson(
        {"model": "m", "response": " Yes", "done": False},
        {"error": "an error was encountered while running the model"},
    )
    client = _client(lambda r: httpx.Response(200, content=body))
    with pytest.raises(StreamError, match="an error was encountered while running the model"):
        _consume(client, {"model": "m", "prompt": "hi"})


def test_stream_ending_without_done_is_an_error() -> None:
    body = _ndjson({"model": "m", "response": "a", "done": False})
    client = _client(lambda r: httpx.Response(200, content=body))
    with pytest.raises(StreamError, match="ended before the final part"):
        _consume(client, {"model": "m", "prompt": "hi"})


def test_404_before_first_chunk_is_model_not_found_with_pull_hint() -> None:
    client = _client(lambda r: httpx.Response(404, json={"error": "model 'nope' not found"}))
    with pytest.raises(ModelNotFound) as info:
        _consume(client, {"model": "nope", "prompt": "hi"})
    assert info.value.message == "model 'nope' not found"
    assert info.value.hint == "llmbox pull nope"


def test_503_before_first_chunk_keeps_status_and_message() -> None:
    msg = "server busy, please try again.  maximum pending requests exceeded"
    client = _client(lambda r: httpx.Response(503, json={"error": msg}))
    with pytest.raises(ServerError) as info:
        _consume(client, {"model": "m", "prompt": "hi"})
    assert info.value.status == 503
    assert info.value.message == msg


def test_connection_refused_is_server_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ServerUnreachable, match=r"Cannot reach Ollama at http://fake:11434"):
        _consume(_client(refuse), {"model": "m", "prompt": "hi"})


def test_request_body_streams_and_sends_options() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=_ndjson({"model": "m", "response": "", "done": True}))

    _consume(_client(handler), {"model": "m", "prompt": "hi", "options": {"num_predict": 3}})
    assert seen == [{"model": "m", "prompt": "hi", "options": {"num_predict": 3}, "stream": True}]


def test_host_path_prefix_is_kept() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={"version": "0.33.0"})

    async def go() -> str:
        client = OllamaClient(host="http://proxy:80/ollama", transport=httpx.MockTransport(handler))
        async with client:
            return await client.version()

    assert asyncio.run(go()) == "0.33.0"
    assert urls == ["http://proxy/ollama/api/version"]  # httpx drops the default port
