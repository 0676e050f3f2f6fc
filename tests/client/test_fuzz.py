"""Fuzzing the wire parsers and host parsing: whatever a server or a user sends, the only
exceptions that come out are llmbox's own (which the CLI prints as one line)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbox.backends.factory import openai_base
from llmbox.client import OllamaClient, iter_ndjson
from llmbox.client._ndjson import NdjsonDecoder
from llmbox.client._openai import OpenAIClient
from llmbox.client._sse import DONE, iter_sse
from llmbox.client._tokens import TokenScanner
from llmbox.config import parse_host
from llmbox.errors import LlmboxError, StreamError, UsageError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Generating nested JSON is slow; fewer examples still cover every cut and nesting pattern.
ROUND_TRIP = settings(FUZZ, max_examples=60)

# Bytes that look like the streams: JSON punctuation, SSE field names, newlines, and noise.
_ATOMS = [
    b"{", b"}", b"[", b"]", b'"', b":", b",", b"\n", b"\r\n", b"\n\n", b" ", b"data: ",
    b"error: ", b": ping", b"[DONE]", b'"done":true', b'"done":false}', b'"error":"x"',
    b'"response":"a"', b'"message":{"content":"b","thinking":"c"}', b"null", b"1e999",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xc2\x85", b"\x00", b"<html>", b"[" * 3000,
]  # fmt: skip
noise = st.lists(st.one_of(st.sampled_from(_ATOMS), st.binary(max_size=20)), max_size=40).map(
    b"".join
)
json_objects = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
    max_size=5,
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (as the network would), keeping every byte."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[start:p])
        start = p
    return pieces


async def _chunks(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for p in pieces:
        yield p


def _drain(parts: AsyncIterator[Any]) -> list[Any]:
    async def go() -> list[Any]:
        return [p.data async for p in parts]

    return asyncio.run(go())


cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=6)


# -- NDJSON ------------------------------------------------------------------------------------


@FUZZ
@given(noise, cuts)
def test_ndjson_raises_only_stream_errors(data: bytes, at: list[int]) -> None:
    try:
        parts = _drain(iter_ndjson(_chunks(_split(data, at))))
    except StreamError:
        return
    assert all(isinstance(p, dict) for p in parts)


@ROUND_TRIP
@given(st.lists(json_objects, max_size=6), cuts, st.booleans())
def test_ndjson_round_trips_any_objects_however_cut(
    objects: list[dict[str, Any]], at: list[int], ascii_only: bool
) -> None:
    data = b"".join(json.dumps(o, ensure_ascii=ascii_only).encode() + b"\n" for o in objects)
    assert _drain(iter_ndjson(_chunks(_split(data, at)))) == objects


@FUZZ
@given(noise, cuts, st.booleans())
def test_token_scanner_raises_only_stream_errors(data: bytes, at: list[int], chat: bool) -> None:
    scanner = TokenScanner(lambda t, answer: None, chat=chat)
    try:
        for piece in _split(data, at):
            scanner.feed(piece, 0)
        scanner.close(0)
    except StreamError:
        return
    assert scanner.final is None or isinstance(scanner.final, dict)


@FUZZ
@given(noise)
def test_ndjson_decoder_flush_raises_only_stream_errors(data: bytes) -> None:
    decoder = NdjsonDecoder()
    try:
        decoder.feed(data, 0)
        decoder.flush(0)
    except StreamError:
        pass


# -- SSE ---------------------------------------------------------------------------------------


@FUZZ
@given(noise, cuts)
def test_sse_raises_only_stream_errors(data: bytes, at: list[int]) -> None:
    try:
        events = _drain(iter_sse(_chunks(_split(data, at))))
    except StreamError:
        return
    assert all(isinstance(e, dict) for e in events)


@ROUND_TRIP
@given(st.lists(json_objects, max_size=5), cuts, st.sampled_from([b"\n", b"\r\n"]))
def test_sse_round_trips_events_however_cut(
    objects: list[dict[str, Any]], at: list[int], eol: bytes
) -> None:
    data = b"".join(b"data: " + json.dumps(o).encode() + eol + eol for o in objects)
    data += b": keep-alive" + eol + eol + b"data: [DONE]" + eol + eol
    assert _drain(iter_sse(_chunks(_split(data, at)))) == [*objects, DONE]


# -- the clients, end to end through an injected transport -------------------------------------

statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 404, 405, 500, 502, 503])
content_types = st.sampled_from(
    ["application/json", "application/x-ndjson", "text/event-stream", "text/html", "text/plain", ""]
)


def _transport(status: int, kind: str, body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": kind} if kind else {}
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handler)


def _only_llmbox_errors(call: Any) -> None:
    message = "-"
    try:
        asyncio.run(call())
    except LlmboxError as err:
        message = err.message
    assert message
    assert "\n" not in message.strip(), message


@FUZZ
@given(
    statuses, content_types, st.one_of(noise, json_objects.map(lambda o: json.dumps(o).encode()))
)
def test_ollama_client_raises_only_llmbox_errors(status: int, kind: str, body: bytes) -> None:
    async def call() -> None:
        async with OllamaClient(
            host="http://fake:1", transport=_transport(status, kind, body)
        ) as c:
            for endpoint in (c.version, c.tags, c.ps, lambda: c.show("m"), lambda: c.delete("m")):
                try:
                    await endpoint()
                except LlmboxError:
                    pass
            try:
                await c.generation("api/generate", {"model": "m"}, lambda t, a: None, chat=False)
            except LlmboxError:
                pass
            try:
                async for _ in c.pull("m"):
                    pass
            except LlmboxError:
                pass
            await c.complete("api/chat", {"model": "m"})

    _only_llmbox_errors(call)


@FUZZ
@given(
    statuses, content_types, st.one_of(noise, json_objects.map(lambda o: json.dumps(o).encode()))
)
def test_openai_client_raises_only_llmbox_errors(status: int, kind: str, body: bytes) -> None:
    async def call() -> None:
        async with OpenAIClient(
            base_url="http://fake:1", transport=_transport(status, kind, body)
        ) as c:
            try:
                await c.models()
            except LlmboxError:
                pass
            async for _ in c.stream("v1/chat/completions", {"model": "m"}):
                pass

    _only_llmbox_errors(call)


# -- hosts -------------------------------------------------------------------------------------

host_text = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            ["http://", "https://", "ftp://", "[", "]", "::1", ":", "0.0.0.0", "example.com",
             "/", "?", "#", "@", "%", " ", "'", '"', "1234", "99999", "-1", "ollama.com", "\t"]
        ),
        max_size=8,
    ).map("".join),
)  # fmt: skip


@FUZZ
@given(host_text)
def test_parse_host_gives_a_usable_url_or_a_usage_error(value: str) -> None:
    try:
        url = parse_host(value)
    except UsageError:
        return
    parsed = httpx.URL(url)
    assert parsed.scheme in ("http", "https")
    assert parsed.host
    assert parsed.port is None or 0 < parsed.port < 65536
    assert parse_host(url) == url  # a parsed host parses to itself
    OllamaClient(host=url, max_connections=1)  # and a client can be built for it


@FUZZ
@given(host_text)
def test_openai_host_gives_a_usable_url_or_a_usage_error(value: str) -> None:
    try:
        OpenAIClient(base_url=openai_base(value), max_connections=1)
    except UsageError:
        pass


@pytest.mark.parametrize(
    "value",
    ["[::1", "http://[", "exa mple.com", "host:0", "host:65536", "00.0.0.0", "h%41", "a'b", "x\\y"],
)
def test_malformed_hosts_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        parse_host(value)
