"""Servers that are not the Ollama llmbox expects, for tests of how llmbox copes with them.

Each is a context manager serving on a free loopback port (``.url``); stdlib only:

* ``HtmlServer``      a web UI on the port: every path answers ``status`` with an HTML page
                      (status 404/500 gives the error pages of nginx and friends);
* ``WrongJsonServer`` JSON that is not Ollama's: every path answers 200 with ``body``;
* ``SilentServer``    accepts every connection and never sends a byte (a hung process);
* ``NotHttpServer``   speaks another protocol (SSH's banner, then hangs up).

The pytest fixtures at the end give one of each per test (``tests/fakes/fixtures.py`` makes them
available to every test).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

import pytest

_S = TypeVar("_S", bound="_Serving")

WEB_UI_TITLE = "Open WebUI"


def html_page(title: str, heading: str | None = None) -> str:
    """A page with a ``<title>``, styles and a script: what a web UI or an error page looks like."""
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n  <meta charset='utf-8'>\n"
        f"  <title>{title}</title>\n  <style>body {{ font-family: sans-serif }}</style>\n"
        "  <script>window.__APP__ = {'page': 1};</script>\n</head>\n"
        f"<body>\n  <h1>{heading or title}</h1>\n  <p>{'lorem ipsum ' * 200}</p>\n</body>\n"
        "</html>\n"
    )


class _Serving:
    """A server thread on 127.0.0.1:<free port>; ``with`` starts and stops it."""

    url: str

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class _HttpServing(_Serving):
    """Every method on every path gets ``answer()``: (status, content type, body)."""

    def answer(self) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def start(self) -> None:
        outer = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                outer.paths.append(self.path)
                status, kind, body = outer.answer()
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HtmlServer(_HttpServing):
    """A web page for every request, with ``status`` (200: a web UI squatting Ollama's port)."""

    def __init__(self, status: int = 200, title: str = WEB_UI_TITLE, heading: str | None = None):
        self.status, self.title, self.heading = status, title, heading

    def answer(self) -> tuple[int, str, bytes]:
        page = html_page(self.title, self.heading)
        return self.status, "text/html; charset=utf-8", page.encode()


class WrongJsonServer(_HttpServing):
    """JSON of the wrong shape for every request (``{"status": "ok", ...}`` by default)."""

    def __init__(self, body: Any = None, status: int = 200) -> None:
        self.body = {"status": "ok", "items": [1, 2, 3]} if body is None else body
        self.status = status

    def answer(self) -> tuple[int, str, bytes]:
        return self.status, "application/json", json.dumps(self.body).encode()


class _SocketServing(_Serving):
    """Accepts connections; with no ``greeting`` it holds them open and never sends a byte."""

    greeting: bytes | None = None

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # closed at stop()
            if self.greeting is not None:
                threading.Thread(
                    target=self._greet, args=(conn, self.greeting), daemon=True
                ).start()

    @staticmethod
    def _greet(conn: socket.socket, greeting: bytes) -> None:
        """What OpenSSH does with a client that speaks HTTP: banner, complaint, hang up."""
        try:
            conn.sendall(greeting)
            conn.recv(65536)
            conn.sendall(b"Invalid SSH identification string.\r\n")
            conn.close()
        except OSError:
            pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._listener.close()
        for conn in self.accepted:
            conn.close()


class SilentServer(_SocketServing):
    """A process that accepts TCP connections and never answers (hung, or stopped in a debugger)."""


class NotHttpServer(_SocketServing):
    """Another protocol on the port: an SSH banner, a complaint about the request, hang-up."""

    greeting = b"SSH-2.0-OpenSSH_9.6\r\n"


@pytest.fixture
def html_server() -> Iterator[HtmlServer]:
    with HtmlServer() as server:
        yield server


@pytest.fixture
def not_found_server() -> Iterator[HtmlServer]:
    """nginx's 404 page for every path."""
    with HtmlServer(404, title="404 Not Found", heading="404 Not Found") as server:
        yield server


@pytest.fixture
def wrong_json_server() -> Iterator[WrongJsonServer]:
    with WrongJsonServer() as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture
def not_http_server() -> Iterator[NotHttpServer]:
    with NotHttpServer() as server:
        yield server
