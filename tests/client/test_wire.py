"""The streaming fast path (``llmbox.client._wire``): same answers and same errors as httpx, on
real sockets, for every server the other tests know; its chunked decoder checked against h11."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import h11
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbox.client import OllamaClient, Timeouts
from llmbox.client._openai import OpenAIClient
from llmbox.client._wire import ChunkedDecoder
from llmbox.errors import LlmboxError
from tests.fakes.hostile import HtmlServer, NotHttpServer, SilentServer, WrongJsonServer
from tests.fakes.ollama import FakeModel, FakeOllama, Fault

SHORT = Timeouts(connect=0.5, request=0.5, idle=0.5)
PATIENT = Timeouts(connect=3, request=3, idle=3)  # servers that answer, on a busy machine
BODY = {"model": "llama3.2", "prompt": "hi", "options": {"num_predict": 5}}

# -- the chunked decoder ----------------------------------------------------------------------


def _chunked(pieces: list[bytes], ext: bool) -> bytes:
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";name=v" if ext else b"", p) for p in pieces if p)
    return out + b"0\r\nx-trailer: 1\r\n\r\n"


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.binary(min_size=0, max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    ext=st.booleans(),
)
def test_chunked_decoder_agrees_with_h11_however_the_bytes_are_split(
    pieces: list[bytes], cuts: list[int], ext: bool
) -> None:
    wire = _chunked(pieces, ext)
    bounds = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = ChunkedDecoder()
    got = b"".join(decoder.feed(wire[a:b]) for a, b in itertools.pairwise(bounds))
    assert decoder.done

    oracle = h11.Connection(h11.CLIENT)
    oracle.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    oracle.send(h11.EndOfMessage())
    oracle.receive_data(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + wire)
    expected = b""
    while not isinstance(event := oracle.next_event(), h11.EndOfMessage):
        if isinstance(event, h11.Data):
            expected += event.data
    assert got == expected == b"".join(pieces)


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\nhello\r\n",  # not hex
        b"+5\r\nhello\r\n",  # int() would take a sign
        b"0x5\r\nhello\r\n",  # and a prefix
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the payload
        b"1" * 5000,  # a size line that never ends
        b"0\r\n\r\nextra",  # bytes after the end
    ],
)
def test_chunked_decoder_rejects_what_is_not_chunked(wire: bytes) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        ChunkedDecoder().feed(wire)


# -- both paths, the same outcome ---------------------------------------------------------------


def _ollama(url: str, fast: bool, limits: Timeouts = PATIENT) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with OllamaClient(host=url, fast=fast, timeouts=limits) as client:
            assert client.fast_path is fast
            return await client.generation(
                "api/generate", dict(BODY), lambda t, a: None, chat=False
            )

    return asyncio.run(go())


def _openai(url: str, fast: bool, limits: Timeouts = PATIENT) -> int:
    async def go() -> int:
        async with OpenAIClient(base_url=url, fast=fast, timeouts=limits) as client:
            body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
            return len([p async for p in client.stream("v1/chat/completions", body)])

    return asyncio.run(go())


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except LlmboxError as err:
        return type(err).__name__, err.message
    return "ok", ""


SERVERS: dict[str, Callable[[], Any]] = {
    "web UI page": HtmlServer,
    "404 page": lambda: HtmlServer(404, title="404 Not Found"),
    "500 page": lambda: HtmlServer(500, title="500 Internal Server Error", heading="Oops"),
    "JSON of another API": WrongJsonServer,
    "silent": SilentServer,
    "another protocol": NotHttpServer,
}


@pytest.mark.parametrize("name", list(SERVERS))
@pytest.mark.parametrize("call", [_ollama, _openai])
def test_hostile_servers_fail_the_same_way_on_both_paths(
    name: str, call: Callable[[str, bool], object]
) -> None:
    limits = SHORT if name == "silent" else PATIENT
    with SERVERS[name]() as server:
        fast = _outcome(lambda: call(server.url, True, limits))
        plain = _outcome(lambda: call(server.url, False, limits))
    assert fast[0] != "ok"
    if name == "another protocol":  # its hang-up reads as a reset or an end, by timing alone
        assert fast[0] == plain[0] == "StreamError"
        assert "lost mid-stream" in fast[1]
        return
    assert fast == plain


@pytest.mark.parametrize(
    "fault",
    [
        Fault("/api/generate", "error", status=503, message="model is overloaded"),
        Fault("/api/generate", "error_after", after=2, message="boom"),
        Fault("/api/generate", "close_after", after=2),
        Fault("/api/generate", "drop", after=2),
        Fault("/api/generate", "error", status=404, message="model 'x' not found"),
    ],
    ids=lambda f: f.kind + str(f.status),
)
def test_a_failing_stream_fails_the_same_way_on_both_paths(
    fake_ollama: FakeOllama, fault: Fault
) -> None:
    outcomes = []
    for fast in (True, False):
        fake_ollama.inject(Fault(fault.path, fault.kind, fault.status, fault.message, fault.after))
        outcomes.append(_outcome(lambda fast=fast: _ollama(fake_ollama.url, fast)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] in ("StreamError", "ServerError", "ModelNotFound")


def test_the_fast_path_gives_the_same_tokens_and_final_part(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(
        FakeModel("m", thinking_tokens=3, decode_tps=2000, load_s=0.0, capabilities=("thinking",))
    )

    def run(fast: bool) -> tuple[list[bool], dict[str, Any]]:
        async def go() -> tuple[list[bool], dict[str, Any]]:
            tokens: list[bool] = []
            async with OllamaClient(host=fake_ollama.url, fast=fast) as client:
                body = {
                    "model": "m",
                    "messages": [{"role": "user", "content": "hi"}],
                    "think": True,
                    "options": {"num_predict": 9},
                }
                final = await client.generation(
                    "api/chat", body, lambda t, a: tokens.append(a), chat=True
                )
            return tokens, final

        return asyncio.run(go())

    fast_tokens, fast_final = run(True)
    plain_tokens, plain_final = run(False)
    assert fast_tokens == plain_tokens == [False] * 3 + [True] * 6
    strip = {"created_at", "total_duration", "load_duration", "prompt_eval_duration"}
    assert {k: v for k, v in fast_final.items() if k not in strip} == {
        k: v for k, v in plain_final.items() if k not in strip
    }


def test_streams_reuse_one_connection_and_pull_goes_fast_too(fake_ollama: FakeOllama) -> None:
    async def go() -> tuple[int, int]:
        async with OllamaClient(host=fake_ollama.url) as client:
            for _ in range(3):
                await client.generation("api/generate", dict(BODY), lambda t, a: None, chat=False)
            parts = [p async for p in client.generate(dict(BODY))]  # the pull-style reader
            assert client._wire is not None
            return len(client._wire._open), len(parts)

    connections, parts = asyncio.run(go())
    assert connections == 1
    assert parts == 6  # five tokens and the final part


@pytest.fixture
def closing_server() -> Iterator[tuple[str, list[int]]]:
    """Answers one stream per connection, advertising keep-alive, then hangs up (as
    llama-server does): the next request on that pooled connection meets a closed socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    served: list[int] = []
    stop = threading.Event()
    part = b'{"response":"x","done":false}\n{"response":"","done":true,"eval_count":1}\n'
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n"
    answer += b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(part), part)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(answer)
                served.append(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", served
    stop.set()
    thread.join(timeout=2)
    listener.close()


def test_a_pooled_connection_the_server_closed_is_replaced_not_an_error(
    closing_server: tuple[str, list[int]],
) -> None:
    url, served = closing_server

    async def go() -> list[dict[str, Any]]:
        async with OllamaClient(host=url, fast=True) as client:
            finals = []
            for _ in range(3):
                finals.append(
                    await client.generation(
                        "api/generate", dict(BODY), lambda t, a: None, chat=False
                    )
                )
                await asyncio.sleep(0.05)
            return finals

    assert [f["eval_count"] for f in asyncio.run(go())] == [1, 1, 1]
    assert len(served) == 3


def test_a_cancelled_stream_closes_its_connection(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("slow", decode_tps=20, load_s=0.0))

    async def go() -> int:
        async with OllamaClient(host=fake_ollama.url, fast=True) as client:
            body = {"model": "slow", "prompt": "hi", "options": {"num_predict": 100}}
            task = asyncio.create_task(
                client.generation("api/generate", body, lambda t, a: None, chat=False)
            )
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client._wire is not None
            left = len(client._wire._open)
            # the pool still works after it
            await client.generation("api/generate", dict(BODY), lambda t, a: None, chat=False)
            return left

    assert asyncio.run(go()) == 0


def test_who_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OllamaClient(host="http://127.0.0.1:1").fast_path
    assert not OllamaClient(host="https://127.0.0.1:1").fast_path  # TLS: httpx
    mock = httpx.MockTransport(lambda r: httpx.Response(200))
    assert not OllamaClient(host="http://127.0.0.1:1", transport=mock).fast_path
    monkeypatch.setenv("LLMBOX_HTTP", "httpx")  # the escape hatch
    assert not OllamaClient(host="http://127.0.0.1:1").fast_path
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # ignored by both paths alike
    monkeypatch.delenv("LLMBOX_HTTP")
    assert OllamaClient(host="http://127.0.0.1:1").fast_path


def test_unreachable_and_unknown_hosts_read_the_same_on_both_paths() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    for url in (f"http://127.0.0.1:{closed_port}", "http://nosuch-ollama.invalid:11434"):
        fast = _outcome(lambda url=url: _ollama(url, True))
        plain = _outcome(lambda url=url: _ollama(url, False))
        assert fast[0] == plain[0] == "ServerUnreachable"
        assert fast[1].split(" — ")[0] == plain[1].split(" — ")[0]
