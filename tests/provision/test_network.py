"""Pull over a real socket: a server that cuts the TCP connection mid-download, then resumes.

The scripted transport in ``_mock`` raises httpx errors directly; this checks that a connection
really closed mid-chunk reaches the core as a retryable error and that the CLI recovers from it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.provision._mock import FakeClock, pull_lines

TOTAL = 2_000_000


class _Pulls(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    attempts: list[dict[str, Any]] = []  # noqa: RUF012 — one server per test, reset by the fixture
    installed: list[dict[str, Any]] = []  # noqa: RUF012

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _json(self, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json({"version": "0.12.0"})
        else:
            self._json({"models": self.installed})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.attempts.append(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        lines = pull_lines(TOTAL)
        first = len(self.attempts) == 1
        # The first attempt stops at 50 % and the socket closes in the middle of a chunk; the
        # second starts where the first stopped, as Ollama does with a partial blob.
        for line in lines[:4] if first else [lines[0], *lines[4:]]:
            data = (json.dumps(line) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        if first:
            self.wfile.write(b'40\r\n{"status":')  # a chunk cut short, then the connection drops
            self.wfile.flush()
            self.close_connection = True
            return
        self.installed.append(
            {"name": "m:latest", "model": "m:latest", "size": TOTAL, "digest": "e" * 64}
        )
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server() -> Iterator[str]:
    _Pulls.attempts, _Pulls.installed = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pulls)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_connection_cut_mid_pull_is_retried_and_the_download_resumes(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr("llmbox.provision._pull.backoff_sleep", clock.sleep)
    result = CliRunner().invoke(app, ["pull", "m", "--host", server, "-f", "json"])
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert "m: pulling aaaaaaaaaaaa  50%  1.0 MB / 2.0 MB" in err
    retry = next(line for line in err if "retry 1 of 3" in line)
    assert "lost mid-stream" in retry
    assert err[-1] == "m: success"
    assert err.count("m: pulling aaaaaaaaaaaa  50%  1.0 MB / 2.0 MB") == 1  # resumed, not restarted
    assert clock.sleeps == [1.0]
    assert len(_Pulls.attempts) == 2
    assert _Pulls.attempts[0] == {"model": "m", "insecure": False, "stream": True}
    (data,) = json.loads(result.stdout)
    assert (data["status"], data["attempts"], data["digest"]) == ("success", 2, "e" * 64)
