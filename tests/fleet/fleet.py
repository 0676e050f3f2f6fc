"""Many fake Ollama servers in one process: a fleet to point llmbox at, with faults on demand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.hostile import HtmlServer, SilentServer
from tests.fakes.ollama import FakeOllama


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def slow(server: FakeOllama, delay_s: float) -> None:
    """Every request to ``server`` waits ``delay_s`` before it is answered."""

    def hook(path: str) -> bool:
        time.sleep(delay_s)
        return False

    server.on_request = hook


@dataclass
class Fleet:
    servers: dict[str, FakeOllama] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: list[HtmlServer | SilentServer] = field(default_factory=list)

    def add(self, name: str, **facts: Any) -> FakeOllama:
        server = FakeOllama().start()
        self.servers[name] = server
        self.urls[name] = server.url
        self.facts[name] = facts
        return server

    def add_down(self, name: str, **facts: Any) -> None:
        self.urls[name] = closed_port_url()
        self.facts[name] = facts

    def add_html(self, name: str, **facts: Any) -> None:
        """A web UI where Ollama should be."""
        self._add_other(name, HtmlServer(), facts)

    def add_silent(self, name: str, **facts: Any) -> None:
        """A hung host: it accepts connections and never answers."""
        self._add_other(name, SilentServer(), facts)

    def _add_other(self, name: str, server: HtmlServer | SilentServer, facts: Any) -> None:
        server.__enter__()
        self.extra.append(server)
        self.urls[name] = server.url
        self.facts[name] = facts

    def inventory(self) -> dict[str, Any]:
        hosts = {name: {"url": url, **self.facts[name]} for name, url in self.urls.items()}
        return {"hosts": hosts, "groups": self.groups}

    def write(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.inventory(), sort_keys=False))
        return path

    def stop(self) -> None:
        """Stop every server at once (each waits up to half a second for its serving loop)."""
        stoppers = [s.stop for s in self.servers.values()] + [
            lambda h=h: h.__exit__(None, None, None) for h in self.extra
        ]
        threads = [threading.Thread(target=stop) for stop in stoppers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


@contextmanager
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    try:
        yield f
    finally:
        f.stop()
