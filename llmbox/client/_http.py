"""The HTTP base both wire clients stand on: one ``httpx.AsyncClient`` set-up, one set of time
limits, and one chokepoint that turns every way a server can fail into llmbox's errors.

    transport: DNS failure       -> ServerUnreachable  "cannot resolve host 'foo'"
               refused / connect -> ServerUnreachable  "Cannot reach Ollama at URL — …"
               silence, hang-up  -> NoAnswer (metadata) or StreamError (a stream's idle gap)
    answer:    HTML / not JSON   -> WrongServer  "the server at URL answered with an HTML page, …"
               JSON, wrong shape -> WrongServer  "… answered with JSON that is not Ollama's API …"
               3xx, 404/405 page -> WrongServer  with the status and the page's first line
               other status page -> ServerError  with the status and the page's first line
               API error body    -> ServerError / ModelNotFound (each client refines)
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from time import perf_counter_ns
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import httpx

from llmbox import __version__
from llmbox.client._ndjson import MalformedLine
from llmbox.client._wire import Sink, WirePool, WireResponse
from llmbox.errors import (
    LlmboxError,
    NoAnswer,
    ServerError,
    ServerUnreachable,
    StreamError,
    UsageError,
    WrongServer,
)

_C = TypeVar("_C", bound="HttpBase")

STREAMS_PER_POOL = 16
_RAISE_HINT = "raise the limit with --timeout SECONDS (0: no limit)"


def _limit(seconds: float | None) -> float | None:
    return None if seconds is None or seconds <= 0 or math.isinf(seconds) else seconds


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait (None: no limit). ``request`` bounds a metadata answer; ``idle`` bounds the
    silence before and between the bytes of a generation, a pull or a load, never its length."""

    connect: float | None
    request: float | None
    idle: float | None

    @classmethod
    def resolve(cls, timeout: float | None = None, *, quick: bool = False) -> Timeouts:
        """The limits for the user's ``--timeout`` (None: not given; 0: no limit).

        Not given, the defaults of ``llmbox.defaults`` apply (``quick``: doctor's short ones);
        given, it bounds every wait, connecting included (which never waits beyond the default).

        >>> Timeouts.resolve(2.5)
        Timeouts(connect=2.5, request=2.5, idle=2.5)
        >>> Timeouts.resolve(0).request is None
        True
        """
        from llmbox import defaults as d  # read at call time, so tests can shorten them

        connect = d.QUICK_TIMEOUT_S if quick else d.CONNECT_TIMEOUT_S
        if timeout is None:
            request = d.QUICK_TIMEOUT_S if quick else d.REQUEST_TIMEOUT_S
            return cls(connect, request, d.STREAM_IDLE_TIMEOUT_S)
        given = _limit(timeout)
        return cls(connect if given is None else min(connect, given), given, given)


# -- reading what came back -------------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _clean(text: str, limit: int = 100) -> str:
    text = " ".join(html.unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_line(body: str) -> str:
    """The first meaningful line of a page: its ``<title>``, else its first line of text.

    >>> first_line("<html><head><title>404 Not Found</title></head><body>…</body></html>")
    '404 Not Found'
    >>> first_line("<h1>Bad &amp; Gateway</h1><p>nginx</p>"), first_line("\\n  plain text\\nmore")
    ('Bad & Gateway', 'plain text')
    """
    if match := _TITLE.search(body):
        title = _clean(match.group(1))
        if title:
            return title
    text = _TAG.sub("\n", _INVISIBLE.sub("\n", body)) if "<" in body else body
    for line in text.splitlines():
        if cleaned := _clean(line):
            return cleaned
    return ""


def _looks_like_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.text.lstrip()[:1] == "<"


def api_error(response: httpx.Response) -> str | None:
    """The message of an API error body: Ollama's ``{"error": "…"}``, OpenAI's
    ``{"error": {"message": …}}``, FastAPI's ``{"detail": …}``; None for anything else."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error", body.get("detail"))
    if isinstance(error, dict):
        error = error.get("message", error)
    if error is None or error == "":
        return None
    return str(error)


def _dns_failure(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(err).lower()
    return any(
        words in text
        for words in ("name or service not known", "nodename nor servname", "getaddrinfo failed")
    )


def _tls_failure(err: BaseException) -> bool:
    import ssl

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "[SSL" in str(err)


def _tls_reason(err: BaseException) -> str:
    """``[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)`` -> the words."""
    words = str(err)
    match = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", words)
    return (match.group(1).strip() if match else words)[:100]


def _check_url(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise ValueError("the scheme must be http:// or https://")
    if not url.host:
        raise ValueError("no host name")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError("a port is a number from 1 to 65535")


def _seconds(limit: float | None) -> str:
    return f"{limit:g} s" if limit is not None else "the time limit"


def fast_path_wanted(host: str, transport: object, fast: bool | None) -> bool:
    """Whether streams to ``host`` take the fast path (``llmbox.client._wire``): plain http://,
    no injected transport, and not turned off (``fast=False`` or ``LLMBOX_HTTP=httpx``).

    >>> fast_path_wanted("http://127.0.0.1:11434", None, None)
    True
    >>> fast_path_wanted("https://example.com", None, True), fast_path_wanted("http://h", 1, None)
    (False, False)
    """
    if transport is not None or not host.lower().startswith("http://"):
        return False
    if fast is None:
        return os.environ.get("LLMBOX_HTTP", "").strip().lower() != "httpx"
    return fast


#: What a streamed answer offers its reader, on either path.
StreamResponse = httpx.Response | WireResponse


class HttpBase:
    """One server's connection pools and the error chokepoint; subclasses add the endpoints.

    ``timeout`` is the user's ``--timeout`` (see ``Timeouts.resolve``); ``timeouts`` overrides
    all limits at once (tests use it). Pass ``transport`` to test without a network. Streams to a
    plain ``http://`` server take the fast path of ``llmbox.client._wire`` unless ``fast`` is
    False (or ``LLMBOX_HTTP=httpx``); everything else goes through httpx.
    """

    #: How messages name the server, its API, the options that choose it, and the URL path a
    #: user can probe it with.
    server: ClassVar[str] = "Ollama"
    api: ClassVar[str] = "Ollama's API"
    host_options: ClassVar[str] = "--host (or OLLAMA_HOST)"
    probe: ClassVar[str] = "api/version"

    def __init__(
        self,
        host: str,
        *,
        timeout: float | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        headers: Mapping[str, str] | None = None,
        fast: bool | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.timeouts = timeouts or Timeouts.resolve(timeout)
        t = self.timeouts
        self._metadata = httpx.Timeout(t.request, connect=t.connect, pool=None)
        self._slow = httpx.Timeout(t.idle, connect=t.connect, pool=None)

        def pool(size: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=self.host + "/",
                timeout=self._metadata,
                transport=transport,
                headers={"user-agent": f"llmbox/{__version__}", **(headers or {})},
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=None),
                trust_env=False,
                # Building an SSL context loads the CA bundle (~40 ms of CPU per pool); a plain
                # http:// server never uses it, so only https:// hosts pay for verification.
                verify=self.host.startswith("https://"),
            )

        # httpcore's pool rescans all of its connections whenever a request starts or ends, which
        # is quadratic at benchmark concurrency (encode/httpcore#1035); streams are spread over
        # pools of at most STREAMS_PER_POOL connections instead.
        shards = max(1, -(-max_connections // STREAMS_PER_POOL))
        try:
            _check_url(httpx.URL(self.host))
            self._pools = [pool(min(max_connections, STREAMS_PER_POOL)) for _ in range(shards)]
        except (httpx.InvalidURL, ValueError) as err:
            raise UsageError(
                f"invalid server URL {self.host!r}: {err}",
                hint="e.g. --host 127.0.0.1:8080 or --host https://example.com",
            ) from None
        self._http = self._pools[0]
        self._next_pool = 0
        self._wire: WirePool | None = None
        self._urls: dict[str, httpx.URL] = {}
        if fast_path_wanted(self.host, transport, fast):
            self._wire = WirePool(
                httpx.URL(self.host),
                headers=self._http.headers,
                connect=t.connect,
                idle=t.idle,
                max_connections=max_connections,
            )

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
        if self._wire is not None:
            self._wire.aclose()

    @property
    def fast_path(self) -> bool:
        """Whether streams take the fast path (see ``fast_path_wanted``)."""
        return self._wire is not None

    # -- the chokepoint ------------------------------------------------------------------------

    def wrong_server(self, what: str, *, detail: str = "", api: bool = True) -> WrongServer:
        """``the server at URL answered with {what}, not {api}`` (+ `` ({detail})``)."""
        return WrongServer(
            self.host,
            message=f"the server at {self.host} answered with {what}"
            + (f", not {self.api}" if api else "")
            + (f" ({detail})" if detail else ""),
            hint=self._check_host_hint(),
        )

    def _check_host_hint(self) -> str:
        probe = f"curl {self.host}/{self.probe}"
        return f"is {self.host_options} pointing at {self.server}? check with: {probe}"

    def wrong_shape(self, path: str, expected: str) -> WrongServer:
        """For a JSON answer that is not the API's: ``expected`` says what was missing."""
        return self.wrong_server(
            f"JSON that is not {self.api}", detail=f"{path}: {expected}", api=False
        )

    def _model_error(self, status: int, message: str, model: str | None) -> LlmboxError | None:
        """A client's own reading of an API error (a missing model, a missing key)."""
        return None

    def _status_error(self, response: httpx.Response, path: str, model: str | None) -> LlmboxError:
        status, reason = response.status_code, response.reason_phrase
        message = api_error(response)
        if message is not None:
            mapped = self._model_error(status, message, model)
            return mapped or ServerError(message, status=status)
        line = first_line(response.text)
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            return self.wrong_server(
                f"a redirect (HTTP {status} {reason}{f' to {where}' if where else ''})",
                detail="use the URL it redirects to as --host" if where else "",
            )
        page = f"HTTP {status} {reason}" + (
            f": {line}" if line and line != f"{status} {reason}" else ""
        )
        if status in (404, 405):  # the endpoint does not exist there: some other server
            return self.wrong_server(f"a status page for /{path}", detail=page)
        return ServerError(
            f"{self.host}/{path} answered {page}",
            status=status,
            hint=f"check the server's log, or with: curl -i {self.host}/{self.probe}",
        )

    def _not_json(self, response: httpx.Response) -> WrongServer:
        line = first_line(response.text)
        if _looks_like_html(response):
            return self.wrong_server("an HTML page", detail=f"titled '{line}'" if line else "")
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "a body"
        return self.wrong_server(
            f"{kind} that is not JSON", detail=f"'{line}'" if line else "an empty answer"
        )

    def _transport_error(self, err: httpx.HTTPError, *, streaming: bool, slow: bool) -> LlmboxError:
        if isinstance(err, httpx.ConnectError) and _dns_failure(err):
            name = httpx.URL(self.host).host
            return ServerUnreachable(
                self.host,
                message=f"cannot resolve host '{name}' (no DNS name found for {self.host})",
                hint="check the host name in --host or OLLAMA_HOST",
                detail=str(err),
            )
        if isinstance(err, httpx.ConnectError) and _tls_failure(err):
            plain = self.host.startswith("https://") and "WRONG_VERSION" in str(err).upper()
            return ServerUnreachable(
                self.host,
                message=f"the TLS handshake with {self.host} failed ({_tls_reason(err)})",
                hint=f"it speaks plain HTTP: use {'http://' + self.host[len('https://') :]}"
                if plain
                else "check the server's certificate, or use http:// if it has none",
                detail=str(err),
            )
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnreachable(self.host, server=self.server, detail=str(err) or None)
        if isinstance(err, httpx.TimeoutException):
            limit = self.timeouts.idle if slow or streaming else self.timeouts.request
            if streaming:
                return StreamError(
                    f"no data from {self.host} for {_seconds(limit)} "
                    "(the idle limit; raise it with --timeout)",
                    hint=_RAISE_HINT,
                )
            return NoAnswer(
                self.host,
                message=f"the server at {self.host} accepted the connection but sent no answer "
                f"within {_seconds(limit)}",
                hint=f"is it hung, or busy? check with: curl -m 10 {self.host}/{self.probe}; "
                + _RAISE_HINT,
            )
        words = str(err) or type(err).__name__
        if isinstance(err, httpx.RemoteProtocolError) and words.startswith("illegal"):
            return self.wrong_server("something that is not HTTP", detail=words[:100])
        if isinstance(err, httpx.RemoteProtocolError) and not streaming:
            return NoAnswer(
                self.host,
                message=f"the server at {self.host} closed the connection without answering "
                f"({words})",
                hint=self._check_host_hint(),
            )
        if streaming:
            return StreamError(f"connection to {self.host} lost mid-stream ({words})")
        return ServerError(f"HTTP error talking to {self.host}: {words}")

    def check_json(self, response: httpx.Response) -> Any:
        """The JSON of a successful answer; anything else is a WrongServer."""
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise self._not_json(response) from None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        model: str | None = None,
        slow: bool = False,
    ) -> httpx.Response:
        """One call; ``slow`` for answers that wait on a model (a load, a non-streamed generation):
        they get the idle limit instead of the metadata one."""
        timeout = self._slow if slow else self._metadata
        try:
            try:
                response = await self._http.request(method, path, json=json, timeout=timeout)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if method != "GET":
                    raise
                # A pooled keep-alive connection the server has since closed: try a fresh one.
                response = await self._http.request(method, path, json=json, timeout=timeout)
        except httpx.HTTPError as err:
            raise self._transport_error(err, streaming=False, slow=slow) from None
        if response.status_code >= 300:
            raise self._status_error(response, path, model)
        return response

    async def get_json(self, path: str, *, model: str | None = None) -> Any:
        return self.check_json(await self.request("GET", path, model=model))

    @asynccontextmanager
    async def open_stream(
        self,
        path: str,
        body: dict[str, Any],
        *,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamResponse]:
        """POST ``body`` for a streamed answer; every HTTP and transport error is mapped here.

        A 2xx answer that is a web page or plain text is a WrongServer before the first byte is
        parsed; the caller reads ``response.aiter_bytes()``.
        """
        try:
            if self._wire is not None:
                async with self._wire_stream(path, body, model, headers) as wired:
                    yield wired
            else:
                async with self._httpx_stream(path, body, model, headers) as response:
                    yield response
        except httpx.HTTPError as err:
            raise self._transport_error(err, streaming=True, slow=True) from None
        except MalformedLine as err:
            if err.line.lstrip()[:1] == b"<":  # a web page with no content type
                raise self.wrong_server("an HTML page") from None
            raise
        except ValueError as err:  # a part the caller could not read
            raise StreamError(f"malformed stream from {self.host}: {err}") from None

    async def stream_into(
        self,
        path: str,
        body: dict[str, Any],
        sink: Sink,
        *,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        end: Callable[[int], None] | None = None,
    ) -> None:
        """POST ``body`` and call ``sink(bytes, arrival_ns)`` with the answer's body as it comes.

        On the fast path ``sink`` runs inside the event loop's read callback (stamped on
        arrival, no task switch per chunk); ``end(arrival_ns)`` is called after the last byte.
        Errors as ``open_stream``, including what ``sink`` and ``end`` raise.
        """
        async with self.open_stream(path, body, model=model, headers=headers) as response:
            if isinstance(response, WireResponse):
                await response.pump(sink)
            else:
                async for chunk in response.aiter_bytes():
                    sink(chunk, perf_counter_ns())
            if end is not None:
                end(perf_counter_ns())

    def _check_head(self, response: StreamResponse) -> bool:
        """True when a streamed answer's head says it is an error or a page (read it whole)."""
        if response.status_code >= 300:
            return True
        kind = response.headers.get("content-type", "").lower()
        return "html" in kind or kind.startswith("text/plain")

    def _page_error(self, response: httpx.Response, path: str, model: str | None) -> LlmboxError:
        if response.status_code >= 300:
            return self._status_error(response, path, model)
        return self._not_json(response)

    @asynccontextmanager
    async def _httpx_stream(
        self, path: str, body: dict[str, Any], model: str | None, headers: Mapping[str, str] | None
    ) -> AsyncIterator[httpx.Response]:
        self._next_pool = (self._next_pool + 1) % len(self._pools)
        http = self._pools[self._next_pool]
        async with http.stream(
            "POST", path, json=body, headers=headers, timeout=self._slow
        ) as response:
            if self._check_head(response):
                await response.aread()
                raise self._page_error(response, path, model)
            yield response

    @asynccontextmanager
    async def _wire_stream(
        self, path: str, body: dict[str, Any], model: str | None, headers: Mapping[str, str] | None
    ) -> AsyncIterator[WireResponse]:
        wire = self._wire
        assert wire is not None
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.host + "/" + path.lstrip("/"))
        # httpx's own encoding of ``json=``, so both paths send the same bytes
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        conn, response = await wire.open(url, payload.encode(), headers)
        try:
            if self._check_head(response):
                raise self._page_error(await response.aread(), path, model)
            yield response
        finally:
            wire.done(conn)


__all__ = ["HttpBase", "StreamResponse", "Timeouts", "api_error", "fast_path_wanted", "first_line"]
