"""The streaming fast path: plain-HTTP/1.1 streams read by an ``asyncio.Protocol``.

A benchmark at 256 streams of 100 tokens/s reads 25,600 network chunks a second, each its own
socket wake-up. Through httpx each one climbs asyncio -> anyio -> httpcore -> h11 -> httpx before
llmbox sees it (~100 µs of CPU on a small machine); here the event loop calls ``data_received``,
which stamps the chunk, undoes the chunked framing and hands the payload to the caller's ``sink``
in the same call: no coroutine switch, no per-read timer.

The response head is parsed by h11 (httpx's own HTTP/1.1 parser), so a status line, headers or
an early hang-up are judged exactly as through httpx; only the body's framing (chunked, a
``content-length``, or read-to-close) is decoded here. Failures are raised as the httpx
exceptions httpx would raise, so ``HttpBase`` maps both paths to the same llmbox errors.

``HttpBase`` uses this path for streamed POSTs to ``http://`` hosts when no transport was
injected; https, and every non-streamed call, go through httpx. The pools of both ignore proxy
variables (``trust_env=False``), so the two paths reach the same address.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from time import perf_counter_ns
from typing import Any, cast

import h11
import httpx

#: sink(payload, arrival_ns): called with body bytes as they arrive.
Sink = Callable[[bytes, int], None]

_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
MAX_SIZE_LINE = 4096  # a chunk-size line (with extensions) longer than this is not HTTP
MAX_ERROR_BODY = 1 << 20  # an error page is read up to 1 MiB for its message


class ChunkedDecoder:
    """Undo ``transfer-encoding: chunked``; ``feed`` returns the payload bytes a piece completed.

    >>> d = ChunkedDecoder()
    >>> d.feed(b"5\\r\\nhel"), d.feed(b"lo\\r\\n0\\r"), d.feed(b"\\n\\r\\n"), d.done
    (b'hel', b'lo', b'', True)

    Malformed framing raises ``httpx.RemoteProtocolError``.
    """

    __slots__ = ("_buffer", "_crlf", "_left", "_trailers", "done")

    def __init__(self) -> None:
        self._buffer = b""  # an incomplete size line, or trailer lines
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = 0  # bytes of the CRLF after the current chunk's payload still due
        self._trailers = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if not (self._buffer or self._left or self._crlf or self._trailers or self.done):
            # The usual case, one whole chunk per read (a server flushing each part): one find
            eol = data.find(b"\r\n", 0, 18)
            if eol > 0:
                size_line = data[:eol]
                # isalnum() rules out the sign, blanks and "_" int() would accept; "x" the 0x
                if size_line.isalnum() and b"x" not in size_line and b"X" not in size_line:
                    try:
                        size = int(size_line, 16)
                    except ValueError:
                        size = 0  # not hex: the general path below says so
                    end = eol + 2 + size
                    if size and len(data) == end + 2 and data[end:] == b"\r\n":
                        return data[eol + 2 : end]
        return self._feed(data)

    def _feed(self, data: bytes) -> bytes:
        if self.done:
            if data:
                raise httpx.RemoteProtocolError("data after the end of a chunked body")
            return b""
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                out.append(data[pos : pos + take])
                pos += take
                self._left -= take
                continue
            if self._crlf:
                expected = b"\r\n"[2 - self._crlf :]
                got = data[pos : pos + self._crlf]
                if not expected.startswith(got):
                    raise httpx.RemoteProtocolError("malformed chunked body: no CRLF after a chunk")
                pos += len(got)
                self._crlf -= len(got)
                continue
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                self._keep(data[pos:])
                break
            line = data[pos:eol]
            pos = eol + 2
            if self._trailers:
                if not line:  # the blank line that ends the trailers
                    self.done = True
                    if pos < end:
                        raise httpx.RemoteProtocolError("data after the end of a chunked body")
                    break
                continue
            self._left = _chunk_size(line)
            if self._left == 0:
                self._trailers = True
            else:
                self._crlf = 2
        return b"".join(out) if len(out) != 1 else out[0]

    def _keep(self, rest: bytes) -> None:
        if len(rest) > MAX_SIZE_LINE:
            raise httpx.RemoteProtocolError("malformed chunked body: a chunk-size line too long")
        self._buffer = rest


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip(b" \t")
    if not _HEX.fullmatch(size):
        raise httpx.RemoteProtocolError(f"malformed chunked body: chunk size {line[:40]!r}")
    return int(size, 16)


class Head:
    """The parts of a response the caller judges before reading its body."""

    __slots__ = ("headers", "reason", "status_code")

    def __init__(self, status: int, reason: str, headers: httpx.Headers) -> None:
        self.status_code = status
        self.reason = reason
        self.headers = headers


class _Retry(Exception):
    """A pooled connection the server had closed before answering: send again on a new one."""


_HEAD, _BODY, _DONE, _FAILED = range(4)


class StreamConnection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, pool: WirePool) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.state = _DONE  # between requests
        self.closed = False
        self.reused = False
        self._h11: h11.Connection | None = None
        self._head: asyncio.Future[Head] | None = None
        self._end: asyncio.Future[None] | None = None
        self._sink: Sink | None = None
        self._held: list[tuple[bytes, int]] = []  # body bytes that came before a sink
        self._framing: ChunkedDecoder | int | None = None  # int: content-length left
        self._inflate: Any = None
        self._keep_alive = False
        self._got_bytes = False
        self._early: list[bytes] = []  # what a fresh connection got before its request
        self._last_ns = 0
        self._watchdog: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is no subclass of it

    def data_received(self, data: bytes) -> None:  # the per-token hot path
        t_ns = perf_counter_ns()
        self._last_ns = t_ns
        state = self.state
        try:
            if state == _BODY:
                self._body(data, t_ns)
            elif state == _HEAD:
                self._got_bytes = True
                self._head_bytes(data, t_ns)
            elif state == _DONE and not self.reused:  # a greeting before the request went out
                self._early.append(data)
            elif state == _DONE:  # bytes nobody asked for: this connection can't be trusted
                self.closed = True
                self.pool.forget(self)
                if self.transport is not None:
                    self.transport.close()
        except BaseException as err:
            self._fail(err)

    def eof_received(self) -> bool | None:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        state = self.state
        if state == _HEAD:
            if self.reused and not self._got_bytes and (exc is None or isinstance(exc, OSError)):
                self._fail(_Retry())
                return
            if exc is not None:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
                return
            # as httpcore: a head cut short by a hang-up is no answer, whatever came of it
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        elif state == _BODY:
            if self._framing is None and exc is None:  # read-to-close: this is the end
                self._finish(perf_counter_ns())
            elif exc is not None:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
            else:
                what = (
                    "incomplete chunked read"
                    if isinstance(self._framing, ChunkedDecoder)
                    else f"{self._framing} bytes of the body missing"
                )
                self._fail(  # httpx's words
                    httpx.RemoteProtocolError(
                        f"peer closed connection without sending complete message body ({what})"
                    )
                )

    # -- one exchange ----------------------------------------------------------------------------

    def send(self, request: h11.Request, body: bytes, idle: float | None) -> asyncio.Future[Head]:
        conn = h11.Connection(h11.CLIENT)
        wire = conn.send(request) or b""
        wire += (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        self._h11 = conn
        self.state = _HEAD
        self._got_bytes = False
        self._head = self.loop.create_future()
        self._end = self.loop.create_future()
        self._sink = None
        self._held = []
        self._framing = None
        self._inflate = None
        self._keep_alive = not any(
            n.lower() == b"connection" and v.lower() == b"close" for n, v in request.headers
        )
        self._last_ns = perf_counter_ns()
        if idle is not None:
            self._arm(idle)
        assert self.transport is not None
        if self.closed:  # hung up before the request could go out
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
            return self._head
        self.transport.write(wire)
        if self._early:
            early, self._early = b"".join(self._early), []
            self.data_received(early)
        return self._head

    def pump(self, sink: Sink) -> asyncio.Future[None]:
        """Send the body to ``sink`` from now on (what came already goes first); the future is
        done when the body is."""
        held, self._held = self._held, []
        for payload, t_ns in held:
            sink(payload, t_ns)
        self._sink = sink
        assert self._end is not None
        return self._end

    def _head_bytes(self, data: bytes, t_ns: int) -> None:
        assert self._h11 is not None
        self._h11.receive_data(data)
        self._next_head(t_ns)

    def _next_head(self, t_ns: int) -> None:
        conn = self._h11
        assert conn is not None
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    break
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except h11.RemoteProtocolError as err:
            raise httpx.RemoteProtocolError(str(err)) from err
        headers = httpx.Headers([(bytes(k), bytes(v)) for k, v in event.headers])
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if chunked:
            self._framing = ChunkedDecoder()
        elif length is not None and length.strip().isdigit():
            self._framing = int(length)
        else:
            self._framing = None
            self._keep_alive = False
        if event.http_version != b"1.1" or "close" in headers.get("connection", "").lower():
            self._keep_alive = False
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(47 if encoding == "gzip" else zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise httpx.DecodingError(f"unsupported content-encoding {encoding!r}")
        rest, _ = conn.trailing_data
        self._h11 = None
        self.state = _BODY
        assert self._head is not None
        if not self._head.done():
            reason = event.reason.decode("latin-1", "replace")
            self._head.set_result(Head(event.status_code, reason, headers))
        if self._framing == 0:
            self._finish(t_ns)
        elif rest:
            self._body(bytes(rest), t_ns)

    def _body(self, data: bytes, t_ns: int) -> None:
        framing = self._framing
        if isinstance(framing, ChunkedDecoder):
            payload = framing.feed(data)
            finished = framing.done
        elif framing is None:
            payload, finished = data, False
        else:
            left = framing - len(data)
            if left < 0:
                raise httpx.RemoteProtocolError("more body bytes than the content-length")
            self._framing = left
            payload, finished = data, left == 0
        if self._inflate is not None:
            try:
                payload = self._inflate.decompress(payload)
            except zlib.error as err:
                raise httpx.DecodingError(f"cannot decompress the body: {err}") from None
        if payload:
            if self._sink is not None:
                self._sink(payload, t_ns)
            else:
                self._held.append((payload, t_ns))
        if finished:
            self._finish(t_ns)

    def _finish(self, t_ns: int) -> None:
        self.state = _DONE
        self._disarm()
        self.reused = True
        end = self._end
        if end is not None and not end.done():
            end.set_result(None)

    def _fail(self, err: BaseException) -> None:
        self.state = _FAILED
        self._keep_alive = False
        self._disarm()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()
        head, end = self._head, self._end
        if head is not None and not head.done():
            head.set_exception(err)  # the caller never sees the body: nobody awaits ``end``
            if end is not None and not end.done():
                end.cancel()
        elif end is not None and not end.done():
            end.set_exception(err)

    # -- the idle limit: one timer per idle period, not one per chunk ------------------------------

    def _arm(self, idle: float) -> None:
        self._disarm()
        due = self._last_ns / 1e9 + idle
        self._watchdog = self.loop.call_at(
            self.loop.time() + max(0.0, due - perf_counter_ns() / 1e9), self._check, idle
        )

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _check(self, idle: float) -> None:
        self._watchdog = None
        if self.state not in (_HEAD, _BODY):
            return
        if perf_counter_ns() - self._last_ns >= idle * 1e9 * 0.999:
            self._fail(httpx.ReadTimeout(f"no data for {idle:g} s"))
        else:
            self._arm(idle)

    # -- back to the pool --------------------------------------------------------------------------

    def release(self) -> None:
        """After an exchange: keep the connection if it can carry another, else close it."""
        self._disarm()
        if self.state == _DONE and self._keep_alive and not self.closed:
            self.pool.keep(self)
        else:
            self.close()

    def close(self) -> None:
        self._disarm()
        self.pool.forget(self)
        if self.state in (_HEAD, _BODY):
            self.state = _FAILED
        for future in (self._head, self._end):
            if future is not None and not future.done():
                future.cancel()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()


class WireResponse:
    """A streamed answer on the fast path: ``status_code``, ``headers``, and the body either
    pushed (``pump``) or pulled (``aiter_bytes``, ``aread``)."""

    def __init__(self, conn: StreamConnection, head: Head, request: httpx.Request) -> None:
        self._conn = conn
        self.status_code = head.status_code
        self.reason_phrase = head.reason
        self.headers = head.headers
        self.request = request

    async def pump(self, sink: Sink) -> None:
        await self._conn.pump(sink)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        queue: deque[bytes] = deque()
        waiter: list[asyncio.Future[None]] = []

        def sink(payload: bytes, t_ns: int) -> None:
            queue.append(payload)
            if waiter and not waiter[0].done():
                waiter[0].set_result(None)

        end = self._conn.pump(sink)
        loop = asyncio.get_running_loop()
        while True:
            while queue:
                yield queue.popleft()
            if end.done():
                end.result()  # raises what broke the stream
                while queue:
                    yield queue.popleft()
                return
            waiter.append(loop.create_future())
            await asyncio.wait((waiter[0], end), return_when=asyncio.FIRST_COMPLETED)
            waiter.clear()

    async def aread(self) -> httpx.Response:
        """The whole body (up to MAX_ERROR_BODY) as an ``httpx.Response``, for error pages."""
        parts: list[bytes] = []
        size = 0
        done = asyncio.get_running_loop().create_future()

        def sink(payload: bytes, t_ns: int) -> None:
            nonlocal size
            if size < MAX_ERROR_BODY:
                parts.append(payload)
                size += len(payload)
            elif not done.done():
                done.set_result(None)

        end = self._conn.pump(sink)
        await asyncio.wait((end, done), return_when=asyncio.FIRST_COMPLETED)
        if end.done():
            end.result()
        return httpx.Response(
            self.status_code, headers=self.headers, content=b"".join(parts), request=self.request
        )


class WirePool:
    """The fast path's keep-alive connections to one ``http://`` host."""

    def __init__(
        self,
        url: httpx.URL,
        *,
        headers: httpx.Headers,
        connect: float | None,
        idle: float | None,
        max_connections: int,
    ) -> None:
        self.url = url
        self.host = url.host
        self.port = url.port or 80
        self.connect_limit = connect
        self.idle_limit = idle
        self.headers = headers
        self._idle: list[StreamConnection] = []
        self._open: set[StreamConnection] = set()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max = max_connections

    def keep(self, conn: StreamConnection) -> None:
        self._idle.append(conn)

    def forget(self, conn: StreamConnection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        self._open.discard(conn)

    async def _connect(self) -> StreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: StreamConnection(self), self.host, self.port),
                self.connect_limit,
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"no connection within {self.connect_limit:g} s") from None
        except OSError as err:
            raise httpx.ConnectError(str(err) or type(err).__name__) from err
        self._open.add(conn)
        return conn

    async def _connection(self) -> StreamConnection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return await self._connect()

    def _request(self, method: str, url: httpx.URL, body: bytes, extra: Any) -> h11.Request:
        headers = httpx.Headers(self.headers)
        headers.update(extra or {})
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
        host = url.host if url.port is None else f"{url.host}:{url.port}"
        pairs = [(b"host", host.encode("ascii"))]
        pairs += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.multi_items()]
        return h11.Request(method=method, target=url.raw_path, headers=pairs)

    async def open(
        self, url: httpx.URL, body: bytes, headers: Any = None
    ) -> tuple[StreamConnection, WireResponse]:
        """POST ``body`` and wait for the answer's head; the caller must ``release`` the
        connection (or ``close`` it) when done with the body."""
        loop = asyncio.get_running_loop()
        if self._slots is None or loop is not self._loop:  # a pool serves one event loop
            self.aclose()
            self._loop, self._slots = loop, asyncio.Semaphore(self._max)
        await self._slots.acquire()
        try:
            request = self._request("POST", url, body, headers)
            for _ in range(3):
                conn = await self._connection()
                try:
                    head = await conn.send(request, body, self.idle_limit)
                except _Retry:
                    conn.close()
                    continue
                except BaseException:
                    conn.close()
                    raise
                return conn, WireResponse(conn, head, httpx.Request("POST", url))
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        except BaseException:
            self._slots.release()
            raise

    def done(self, conn: StreamConnection) -> None:
        """The caller is done with ``conn``: kept if its answer ended cleanly, else closed."""
        conn.release()
        assert self._slots is not None
        self._slots.release()

    def aclose(self) -> None:
        for conn in list(self._open):
            try:
                conn.close()
            except RuntimeError:  # its event loop is closed: the socket went with it
                pass
        self._open.clear()
        self._idle.clear()


__all__ = ["ChunkedDecoder", "Sink", "WirePool", "WireResponse"]
