"""The shared HTTP base: both clients map every failure the same way; time limits on real sockets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmbox.client import OllamaClient, Timeouts
from llmbox.client._http import HttpBase, first_line
from llmbox.client._openai import OpenAIClient
from llmbox.errors import (
    LlmboxError,
    NoAnswer,
    ServerError,
    ServerUnreachable,
    StreamError,
    WrongServer,
)
from tests.fakes.hostile import SilentServer, html_page
from tests.fakes.ollama import FakeModel, FakeOllama

Handler = Callable[[httpx.Request], httpx.Response]
SHORT = Timeouts(connect=0.3, request=0.3, idle=0.3)


def _raise(err: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise err

    return handler


def _answer(status: int, body: str | bytes, kind: str, **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": kind, **headers})

    return handler


def _dns_error() -> httpx.ConnectError:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as cause:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from cause
    except httpx.ConnectError as err:
        return err


async def _ollama_metadata(handler: Handler) -> None:
    async with OllamaClient(host="http://fake:11434", transport=httpx.MockTransport(handler)) as c:
        await c.tags()


async def _ollama_stream(handler: Handler) -> None:
    async with OllamaClient(host="http://fake:11434", transport=httpx.MockTransport(handler)) as c:
        await c.generation("api/generate", {"model": "m"}, lambda t, a: None, chat=False)


async def _openai_metadata(handler: Handler) -> None:
    transport = httpx.MockTransport(handler)
    async with OpenAIClient(base_url="http://fake:11434", transport=transport) as c:
        await c.models()


async def _openai_stream(handler: Handler) -> None:
    transport = httpx.MockTransport(handler)
    async with OpenAIClient(base_url="http://fake:11434", transport=transport) as c:
        async for _ in c.stream("v1/chat/completions", {"model": "m"}):
            pass


CALLS = {
    "ollama": _ollama_metadata,
    "ollama stream": _ollama_stream,
    "openai": _openai_metadata,
    "openai stream": _openai_stream,
}
OK_PAGE = html_page("Open WebUI")
ERROR_PAGE = html_page("500 Internal Server Error", "Oops")

# (scenario, handler, error class, message with {api} for the client's API name)
SCENARIOS: list[tuple[str, Handler, type[LlmboxError], str]] = [
    ("dns", _raise(_dns_error()), ServerUnreachable,
     "cannot resolve host 'fake' (no DNS name found for http://fake:11434)"),
    ("refused", _raise(httpx.ConnectError("[Errno 111] Connection refused")), ServerUnreachable,
     "Cannot reach {server} at http://fake:11434"),
    ("html 200", _answer(200, OK_PAGE, "text/html"), WrongServer,
     "the server at http://fake:11434 answered with an HTML page, not {api} "
     "(titled 'Open WebUI')"),
    ("html 200 without a content type", _answer(200, OK_PAGE, ""), WrongServer,
     "the server at http://fake:11434 answered with an HTML page, not {api}"),
    ("text 200", _answer(200, "Ollama is running", "text/plain; charset=utf-8"), WrongServer,
     "the server at http://fake:11434 answered with text/plain that is not JSON, not {api} "
     "('Ollama is running')"),
    ("404 text", _answer(404, "404 page not found", "text/plain"), WrongServer,
     "the server at http://fake:11434 answered with a status page for /{path}, not {api} "
     "(HTTP 404 Not Found: 404 page not found)"),
    ("500 page", _answer(500, ERROR_PAGE, "text/html"), ServerError,
     "http://fake:11434/{path} answered HTTP 500 Internal Server Error"),
    ("502 empty", _answer(502, "", "text/html"), ServerError,
     "http://fake:11434/{path} answered HTTP 502 Bad Gateway"),
    ("redirect", _answer(301, "", "text/html", location="https://fake/"), WrongServer,
     "the server at http://fake:11434 answered with a redirect (HTTP 301 Moved Permanently "
     "to https://fake/), not {api} (use the URL it redirects to as --host)"),
]  # fmt: skip
PATHS = {
    "ollama": "api/tags",
    "ollama stream": "api/generate",
    "openai": "v1/models",
    "openai stream": "v1/chat/completions",
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize(("scenario", "handler", "kind", "message"), SCENARIOS)
def test_both_clients_map_every_failure_the_same_way(
    call: str, scenario: str, handler: Handler, kind: type[LlmboxError], message: str
) -> None:
    client = OpenAIClient if call.startswith("openai") else OllamaClient
    expected = message.format(api=client.api, server=client.server, path=PATHS[call])
    with pytest.raises(kind) as caught:
        asyncio.run(CALLS[call](handler))
    assert type(caught.value) is kind
    assert caught.value.message.startswith(expected), caught.value.message
    assert "<" not in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint


def test_an_error_page_shows_its_first_meaningful_line() -> None:
    with pytest.raises(ServerError) as caught:
        asyncio.run(_ollama_metadata(_answer(500, ERROR_PAGE, "text/html")))
    assert caught.value.message == (
        "http://fake:11434/api/tags answered HTTP 500 Internal Server Error"
    )  # the title says nothing more than the status, so it is not repeated
    page = "<html><body><h1>Bad gateway</h1><p>upstream 10.0.0.2 refused</p></body></html>"
    with pytest.raises(ServerError) as caught:
        asyncio.run(_ollama_metadata(_answer(502, page, "text/html")))
    assert caught.value.message == (
        "http://fake:11434/api/tags answered HTTP 502 Bad Gateway: Bad gateway"
    )
    assert caught.value.status == 502


@pytest.mark.parametrize(
    ("page", "line"),
    [
        ("<title>\n  Welcome to  nginx!\n</title>", "Welcome to nginx!"),
        ("<html><head><style>h1{}</style><script>x=1</script></head><h1>Hi &lt;3</h1>", "Hi <3"),
        ("<!-- comment -->\n<p>\n\n  text </p>", "text"),
        ("x" * 300, "x" * 99 + "…"),
        ("", ""),
    ],
)
def test_first_line(page: str, line: str) -> None:
    assert first_line(page) == line


def test_api_errors_keep_their_own_words() -> None:
    body = '{"error":"model \'m\' not found"}'
    with pytest.raises(ServerError, match=r"^model 'm' not found$"):
        asyncio.run(_ollama_metadata(_answer(404, body, "application/json")))
    with pytest.raises(ServerError, match=r"^Invalid API key$") as caught:
        asyncio.run(
            _openai_metadata(_answer(401, '{"detail": "Invalid API key"}', "application/json"))
        )
    assert caught.value.hint == "set --api-key or OPENAI_API_KEY"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"status": "ok"}', '/api/tags: no "models" list'),
        ('{"models": 3}', '/api/tags: "models" is not a list'),
        ('{"models": [{"size": "big"}]}', "/api/tags: size: Input should be a valid integer"),
        ("[1, 2]", '/api/tags: no "models" list'),
    ],
)
def test_json_of_the_wrong_shape_says_what_is_missing(body: str, detail: str) -> None:
    with pytest.raises(WrongServer) as caught:
        asyncio.run(_ollama_metadata(_answer(200, body, "application/json")))
    assert caught.value.message.startswith(
        "the server at http://fake:11434 answered with JSON that is not Ollama's API ("
    )
    assert detail in caught.value.message


# -- time limits on real sockets ---------------------------------------------------------------


def test_a_silent_server_is_no_answer_after_the_request_limit() -> None:
    async def go(url: str) -> None:
        async with OllamaClient(host=url, timeouts=SHORT) as client:
            await client.version()

    with SilentServer() as server:
        started = time.monotonic()
        with pytest.raises(NoAnswer) as caught:
            asyncio.run(go(server.url))
        assert time.monotonic() - started < 2
    assert caught.value.message == (
        f"the server at {server.url} accepted the connection but sent no answer within 0.3 s"
    )
    assert "--timeout" in (caught.value.hint or "")
    assert caught.value.exit_code == 3


def test_a_silent_server_fails_a_stream_after_the_idle_limit() -> None:
    async def go(url: str) -> None:
        async with OllamaClient(host=url, timeouts=SHORT) as client:
            await client.generation("api/generate", {"model": "m"}, lambda t, a: None, chat=False)

    with SilentServer() as server, pytest.raises(StreamError) as caught:
        asyncio.run(go(server.url))
    assert (
        caught.value.message
        == f"no data from {server.url} for 0.3 s (the idle limit; raise it with --timeout)"
    )
    assert caught.value.hint == "raise the limit with --timeout SECONDS (0: no limit)"


def _generate(fake: FakeOllama, timeouts: Timeouts, tokens: int) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with OllamaClient(host=fake.url, timeouts=timeouts) as client:
            body = {"model": "slow", "prompt": "hi", "options": {"num_predict": tokens}}
            return await client.generation("api/generate", body, lambda t, a: None, chat=False)

    return asyncio.run(go())


def test_the_idle_limit_is_a_gap_between_bytes_not_a_limit_on_the_stream(
    fake_ollama: FakeOllama,
) -> None:
    fake_ollama.add(FakeModel("slow", decode_tps=10, load_s=0.0))  # a token every 0.1 s
    final = _generate(fake_ollama, Timeouts(connect=2, request=2, idle=0.6), tokens=8)
    assert final["eval_count"] == 8  # 0.8 s in all: longer than the idle limit

    fake_ollama.add(FakeModel("slow", decode_tps=0.8, load_s=0.0))  # a token after 1.25 s
    with pytest.raises(
        StreamError, match=r"no data from .* for 0\.4 s \(the idle limit; raise it with --timeout\)"
    ):
        _generate(fake_ollama, Timeouts(connect=2, request=2, idle=0.4), tokens=1)


def test_a_load_waits_for_the_idle_limit_not_the_metadata_one(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("slowload", load_s=0.4))
    fake_ollama.add(FakeModel("slowload2", load_s=0.4))

    async def go(model: str, limits: Timeouts) -> None:
        async with OllamaClient(host=fake_ollama.url, timeouts=limits) as client:
            await client.load(model)

    asyncio.run(go("slowload", Timeouts(connect=1, request=0.1, idle=2)))
    with pytest.raises(NoAnswer, match=r"sent no answer within 0\.1 s"):
        asyncio.run(go("slowload2", Timeouts(connect=1, request=2, idle=0.1)))


def test_defaults_and_a_given_timeout_reach_httpx() -> None:
    client = HttpBase("http://h:1")
    assert client.timeouts == Timeouts(connect=10.0, request=30.0, idle=600.0)
    assert HttpBase("http://h:1", timeout=0).timeouts == Timeouts(10.0, None, None)
    assert HttpBase("http://h:1", timeout=4).timeouts == Timeouts(4, 4, 4)


def test_invalid_server_url_is_a_usage_error() -> None:
    from llmbox.errors import UsageError

    with pytest.raises(UsageError, match="invalid server URL"):
        OpenAIClient(base_url="http://[zz]")
    with pytest.raises(UsageError, match="a port is a number from 1 to 65535"):
        OpenAIClient(base_url="http://127.0.0.1:99999")
