"""A small scripted Ollama behind ``httpx.MockTransport``, for unit tests of the provisioning core.

End-to-end tests use the fake server in ``tests/fakes``; this one exists so the core's retry
and event logic can be driven line by line (drops at an exact byte, error lines, short streams).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from llmbox.client import OllamaClient

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
NOT_EXIST = "pull model manifest: file does not exist"


def pull_lines(
    total: int = 2_000_000, steps: int = 4, *, small: int = 1429
) -> list[dict[str, Any]]:
    """The lines of a healthy pull: manifest, one big layer in ``steps``, a small layer, success."""
    lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
    lines.append({"status": f"pulling {DIGEST_A[7:19]}", "digest": DIGEST_A, "total": total})
    for i in range(1, steps + 1):
        lines.append(
            {
                "status": f"pulling {DIGEST_A[7:19]}",
                "digest": DIGEST_A,
                "total": total,
                "completed": total * i // steps,
            }
        )
    lines.append(
        {
            "status": f"pulling {DIGEST_B[7:19]}",
            "digest": DIGEST_B,
            "total": small,
            "completed": small,
        }
    )
    lines += [
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    return lines


class Drop(Exception):
    """Put in a pull script: the connection breaks at that point."""


class CtrlC(Exception):
    """Put in a pull script: the user presses Ctrl-C at that point."""


@dataclass
class MockOllama:
    """Installed and loaded models plus, per pull attempt, the script of lines to stream.

    ``pull_scripts[name]`` is a list of attempts; each attempt is a list of dicts, ``Drop()``
    (connection lost) or a ``(status, body)`` tuple for a non-200 answer. The last attempt repeats.
    """

    installed: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    pull_scripts: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    evict_after_polls: int = 0
    pull_attempts: dict[str, int] = field(default_factory=dict)
    evicting: dict[str, int] = field(default_factory=dict)
    install_on_pull: bool = True  # False: a "success" pull that leaves nothing listed

    def add(
        self, name: str, *, size: int = 2_019_393_189, digest: str = "a80c4f17acd5" + "0" * 52
    ) -> None:
        self.installed[name] = {
            "name": name,
            "model": name,
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": size,
            "digest": digest,
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        }

    def client(self) -> OllamaClient:
        return OllamaClient(host="http://mock:11434", transport=httpx.MockTransport(self.handle))

    @staticmethod
    def _key(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        path = request.url.path
        self.requests.append((request.method, path, body))
        name = self._key(str(body.get("model", "")))
        if path == "/api/version":
            return httpx.Response(200, json={"version": "0.12.0"})
        if path == "/api/tags":
            return httpx.Response(200, json={"models": list(self.installed.values())})
        if path == "/api/ps":
            listed = list(self.loaded.values())
            for key in list(self.evicting):
                self.evicting[key] -= 1
                if self.evicting[key] <= 0:
                    del self.evicting[key]
                    self.loaded.pop(key, None)
            return httpx.Response(200, json={"models": listed})
        if path == "/api/show":
            if name not in self.installed:
                return httpx.Response(404, json={"error": f"model '{name}' not found"})
            return httpx.Response(200, json=SHOW_BODY)
        if path == "/api/delete":
            if self.installed.pop(name, None) is None:
                return httpx.Response(404, json={"error": f"model '{body['model']}' not found"})
            return httpx.Response(200)
        if path == "/api/generate":
            return self._generate(name, body)
        if path == "/api/pull":
            return self._pull(name, body)
        return httpx.Response(404, text="404 page not found")

    def _generate(self, name: str, body: dict[str, Any]) -> httpx.Response:
        if name not in self.installed:
            return httpx.Response(404, json={"error": f"model '{body['model']}' not found"})
        if body.get("keep_alive") == 0:
            if name in self.loaded and self.evict_after_polls:
                self.evicting[name] = self.evict_after_polls  # listed for that many more polls
            else:
                self.loaded.pop(name, None)
            return httpx.Response(
                200, json={"model": body["model"], "done": True, "done_reason": "unload"}
            )
        m = self.installed[name]
        self.loaded[name] = {
            "name": name,
            "model": name,
            "size": 3_000_000_000,
            "size_vram": 2_790_000_000,
            "digest": m["digest"],
            "details": m["details"],
            "expires_at": "2318-01-01T00:00:00Z"
            if body.get("keep_alive") == -1
            else "2099-01-01T00:00:00Z",
            "context_length": 4096,
        }
        return httpx.Response(
            200, json={"model": body["model"], "done": True, "done_reason": "load"}
        )

    def _pull(self, name: str, body: dict[str, Any]) -> httpx.Response:
        attempts = self.pull_scripts.get(name) or self.pull_scripts.get(body["model"])
        n = self.pull_attempts.get(name, 0)
        self.pull_attempts[name] = n + 1
        if attempts is None:
            script: Any = [
                {"status": "pulling manifest"},
                {"error": "pull model manifest: file does not exist"},
            ]
        else:
            script = attempts[min(n, len(attempts) - 1)]
        if isinstance(script, tuple):
            status, payload = script
            return httpx.Response(status, json=payload)

        async def stream() -> AsyncIterator[bytes]:
            for item in script:
                if isinstance(item, CtrlC):
                    raise KeyboardInterrupt
                if isinstance(item, Drop):
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                if item.get("status") == "success" and self.install_on_pull:
                    self.add(name)
                yield (json.dumps(item) + "\n").encode()

        return httpx.Response(
            200, headers={"content-type": "application/x-ndjson"}, content=stream()
        )


SHOW_BODY: dict[str, Any] = {
    "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    },
    "model_info": {
        "general.architecture": "llama",
        "general.parameter_count": 3212749888,
        "llama.block_count": 28,
        "llama.context_length": 131072,
        "llama.embedding_length": 3072,
        "llama.attention.head_count": 24,
        "llama.attention.head_count_kv": 8,
    },
    "capabilities": ["completion", "tools"],
    "modified_at": "2025-05-04T17:37:44.706015396-07:00",
}


class FakeClock:
    """A monotonic clock that advances only when told; ``sleep`` records and advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Recorder = Callable[[Any], None]
