"""SSE parsing and the OpenAI-compatible backend, through an injected transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from llmbox.backends.base import GenRequest
from llmbox.backends.openai import OpenAIBackend
from llmbox.client._openai import OpenAIClient
from llmbox.client._sse import DONE, iter_sse
from llmbox.errors import ServerError, StreamError


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


def _events(*parts: bytes) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        return [p.data async for p in iter_sse(_chunks(*parts))]

    return asyncio.run(go())


def test_lf_and_crlf_comments_and_done() -> None:
    events = _events(
        b': keep-alive\n\ndata: {"a": 1}\n\n',
        b'data: {"b"',
        b": 2}\r\n\r\n: ping - 2026\r\n\r\ndata: [DONE]\r\n\r\n",
    )
    assert events == [{"a": 1}, {"b": 2}, DONE]


def test_multiline_data_is_joined_and_error_field_is_an_error() -> None:
    events = _events(b'data: {"a":\ndata: 1}\n\nerror: {"message": "boom"}\n\n')
    assert events == [{"a": 1}, {"error": {"message": "boom"}}]


LLAMACPP_STREAM = (
    b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],'
    b'"object":"chat.completion.chunk"}\n\n'
    b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hello"}}]}\n\n'
    b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":" there"}}]}\n\n'
    b'data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}]}\n\n'
    b'data: {"choices":[],"usage":{"completion_tokens":2,"prompt_tokens":40,"total_tokens":42,'
    b'"prompt_tokens_details":{"cached_tokens":8}},"timings":{"cache_n":8,"prompt_n":32,'
    b'"prompt_ms":16.0,"predicted_n":2,"predicted_ms":20.0}}\n\n'
    b"data: [DONE]\n\n"
)


def _backend(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAIBackend:
    return OpenAIBackend(
        OpenAIClient(base_url="http://x:8080", transport=httpx.MockTransport(handler))
    )


def _generate(backend: OpenAIBackend, **kw: object) -> object:
    async def go() -> object:
        try:
            return await backend.generate(GenRequest(model="m", prompt="hi", max_tokens=2, **kw))  # type: ignore[arg-type]
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_llamacpp_timings_give_server_side_rates_with_cache_excluded() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(
            200, content=LLAMACPP_STREAM, headers={"content-type": "text/event-stream"}
        )

    sample = _generate(_backend(handler))
    assert sent[0]["stream_options"] == {"include_usage": True}
    assert sample.prompt_eval_count == 40  # type: ignore[attr-defined]
    assert sample.cached_prompt_tokens == 8  # type: ignore[attr-defined]
    assert sample.prompt_eval_duration_ns == 16_000_000  # type: ignore[attr-defined]
    assert sample.eval_count == 2  # type: ignore[attr-defined]
    assert sample.counts_source == "server"  # type: ignore[attr-defined]
    assert sample.done_reason == "length"  # type: ignore[attr-defined]
    assert sample.ttft_s is not None  # type: ignore[attr-defined]


def test_without_usage_counts_are_chunks_and_say_so() -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    sample = _generate(_backend(lambda r: httpx.Response(200, content=body)))
    assert sample.eval_count == 2  # type: ignore[attr-defined]
    assert sample.counts_source == "chunks"  # type: ignore[attr-defined]


def test_stream_without_done_is_an_error() -> None:
    # Ollama's /v1 re-encodes a mid-stream error as a chunk and ends without [DONE].
    body = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
    with pytest.raises(StreamError, match=r"ended without data: \[DONE\]"):
        _generate(_backend(lambda r: httpx.Response(200, content=body)))


def test_error_object_mid_stream_raises_its_message() -> None:
    body = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error":{"code":500,"message":"slot crashed"}}\n\n'
    with pytest.raises(StreamError, match="slot crashed"):
        _generate(_backend(lambda r: httpx.Response(200, content=body)))


def test_http_error_before_stream_keeps_message_and_api_key_is_sent_not_shown() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(401, json={"error": {"code": 401, "message": "Invalid API Key"}})

    backend = OpenAIBackend(
        OpenAIClient(
            base_url="http://x:8080/v1", api_key="sk-secret", transport=httpx.MockTransport(handler)
        )
    )
    with pytest.raises(ServerError) as info:
        _generate(backend)
    assert seen == ["Bearer sk-secret"]
    assert "sk-secret" not in str(info.value) + (info.value.hint or "")
    assert info.value.hint == "set --api-key or OPENAI_API_KEY"
