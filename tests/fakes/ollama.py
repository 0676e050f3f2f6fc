"""A faithful fake Ollama server for tests: real HTTP/1.1 on loopback, stdlib only.

It follows ``shared/reference/ollama_api.md`` (§18 fidelity checklist): NDJSON framing with one
``json.dumps`` line per chunk and a flush each; zero-valued metrics omitted; errors as
``{"error": ...}`` with Ollama's statuses and strings, before the first chunk or as a last line
after it; load/unload requests; ``/api/ps`` with ``size_vram``; ``/api/show`` with ``model_info``;
pull progress per digest with resume; a prompt cache that counts every prompt token in
``prompt_eval_count`` but spends ``prompt_eval_duration`` only on the new ones.

Its timings are the ground truth tests compare llmbox with: durations are computed exactly from
each model's configured rates, the server really sleeps them, and every generation appends a
record to ``server.truths``.

Tokenizer (so tests can predict counts): a token is a whitespace-separated word. Chat adds
``<role>`` before and ``<end>`` after each message and ``<assistant>`` at the end; generate (not
raw) wraps the prompt as ``<user> … <end> <assistant>``; each image adds ``image_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BUSY = "server busy, please try again.  maximum pending requests exceeded"


def _digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def full_name(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return (name if ":" in last else f"{name}:latest").lower()


@dataclass
class FakeModel:
    """An installed model and how fast the fake runs it."""

    name: str
    family: str = "llama"
    parameter_size: str = "3.2B"
    parameter_count: int = 3_212_749_888
    quantization: str = "Q4_K_M"
    size: int = 2_019_393_189
    size_vram: int | None = None  # bytes on the GPU once loaded; None: all of it
    context_length: int = 131072
    embedding_length: int = 3072
    block_count: int = 28
    head_count: int = 24
    head_count_kv: int = 8
    capabilities: tuple[str, ...] = ("completion", "tools")
    prefill_tps: float = 2000.0
    decode_tps: float = 500.0
    load_s: float = 0.05
    thinking_tokens: int = 0  # emitted before the answer when thinking is on
    image_tokens: int = 0
    reply_tokens: int = 10_000  # stops with "stop" after this many answer tokens
    reply_text: tuple[str, ...] = ()  # token strings to emit (cycled); default " tok<i>"
    digest: str = ""
    seen: list[list[str]] = field(default_factory=list, repr=False)  # for cache_every_prompt
    # Scripted answers (quality tasks): called with the last user message and its images
    # (base64); a string is the answer (one token per word, then "stop"), None the default reply.
    script: Callable[[str, list[str]], str | None] | None = field(default=None, repr=False)
    # Thinking tokens per prompt (the last user message), instead of ``thinking_tokens``.
    thinking_for: Callable[[str], int] | None = field(default=None, repr=False)

    def scripted(self, text: str, images: list[str]) -> list[str] | None:
        """The scripted answer's tokens (each but the first with a leading space), or None."""
        answer = self.script(text, images) if self.script is not None else None
        if answer is None:
            return None
        words = answer.split(" ")
        return [words[0], *(f" {w}" for w in words[1:])]

    def thinking_count(self, text: str) -> int:
        return self.thinking_for(text) if self.thinking_for is not None else self.thinking_tokens

    def __post_init__(self) -> None:
        self.name = full_name(self.name)
        self.digest = self.digest or _digest(self.name)

    def short(self) -> str:
        return self.name.split(":")[0]


@dataclass
class RegistryModel:
    """A model ``/api/pull`` can fetch: its layers (digest, bytes) and what it installs."""

    model: FakeModel
    layers: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.layers:
            d = self.model.digest
            self.layers = ((d, 4_000_000), (_digest(d + "tmpl"), 1_429))


@dataclass
class Fault:
    """A scripted failure for the next request to ``path``.

    kinds: ``error`` (HTTP ``status`` + ``{"error": message}`` before any chunk),
    ``error_after`` (``after`` chunks, then an error line, no done), ``close_after`` (``after``
    chunks, then a clean end without done), ``drop`` (``after`` chunks, then the socket is cut
    mid-stream), ``slow`` (sleep ``delay_s`` before answering, then behave normally).
    """

    path: str
    kind: str
    status: int = 500
    message: str = "an error was encountered while running the model"
    after: int = 0
    delay_s: float = 0.0
    times: int = 1


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (a timeout, Ctrl-C) is routine, as for Ollama: no
        traceback on stderr, where it would land in whichever test captures stderr next."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class _Loaded:
    model: FakeModel
    expires: datetime
    num_ctx: int = 4096
    cache: list[str] = field(default_factory=list)


def _shared_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _now_local() -> datetime:
    return datetime.now(timezone.utc).astimezone()


def _rfc3339(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


def _created_at() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_json(obj: Any, *, ensure_ascii: bool = True) -> str:
    r"""JSON the way Go's encoder writes it: compact, ``<``/``>``/``&`` and U+2028/9 escaped, but
    U+0085 left raw (with ``ensure_ascii=False``), which is what breaks ``splitlines()`` clients.

    >>> print(go_json({"a": "<b> & \u2028"}))
    {"a":"\u003cb\u003e \u0026 \u2028"}
    """
    text = json.dumps(obj, ensure_ascii=ensure_ascii, separators=(",", ":"))
    # These characters never occur in JSON syntax outside strings, so replacing them is safe.
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def parse_keep_alive(value: Any) -> float:
    """Seconds; negative means forever. Raises ValueError with Go's message for bad strings."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValueError(f'time: missing unit in duration "{text}"')
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f'time: invalid duration "{text}"')
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FakeOllama:
    """Start with ``with FakeOllama() as server:`` (or ``start()``/``stop()``); see module doc."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the defaults every test starts from."""
        with getattr(self, "_lock", threading.RLock()):
            self.version = "0.33.0-rc2"
            self.models: dict[str, FakeModel] = {}
            self.registry: dict[str, RegistryModel] = {}
            self.loaded: dict[str, _Loaded] = {}
            self.partial: dict[str, int] = {}  # digest -> bytes already downloaded
            self.faults: list[Fault] = []
            self.requests: list[dict[str, Any]] = []
            self.truths: list[dict[str, Any]] = []
            self.num_parallel = 1
            self.max_queue = 512
            self.prompt_cache = True
            # Like llama.cpp's prompt cache or vLLM's prefix caching: every earlier prompt of the
            # model stays cached (not just the last one), across requests and benchmark runs.
            self.cache_every_prompt = False
            self.report_cached_count = False
            self.pull_chunk = 1_000_000  # bytes per progress line
            self.pull_delay_s = 0.0
            # Called with each request's path; returning True cuts that request's connection.
            self.on_request: Callable[[str], bool] | None = None
            self._busy = 0
            self._waiting = 0
            self._slot_free = threading.Condition(self._lock)
            for m in default_models():
                self.add(m)
            for r in default_registry():
                self.registry[r.model.name] = r

    def add(self, model: FakeModel) -> FakeModel:
        with self._lock:
            self.models[model.name] = model
        return model

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.path == path:
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- model lookup and loading -------------------------------------------------------------

    def find(self, name: str) -> FakeModel | None:
        return self.models.get(full_name(name)) if name else None

    def _load(self, model: FakeModel, keep_alive: float | None, num_ctx: int | None) -> int:
        """Load if needed; returns the load time in ns (a real sleep when cold)."""
        with self._lock:
            entry = self.loaded.get(model.name)
            cold = entry is None or (num_ctx is not None and entry.num_ctx != num_ctx)
        t0 = time.perf_counter_ns()
        if cold:
            time.sleep(model.load_s)
        ka = 300.0 if keep_alive is None else keep_alive
        expires = _now_local() + (timedelta(days=365 * 292) if ka < 0 else timedelta(seconds=ka))
        with self._lock:
            if cold:
                self.loaded[model.name] = _Loaded(model, expires, num_ctx or 4096)
            else:
                assert entry is not None
                entry.expires = expires
        load_ns = time.perf_counter_ns() - t0
        return max(load_ns, 100_000)

    def _acquire_slot(self) -> int:
        """Wait for a free slot; returns ns waited. 503 when too many wait (OLLAMA_MAX_QUEUE)."""
        t0 = time.perf_counter_ns()
        with self._slot_free:
            if self._busy >= self.num_parallel:
                if self._waiting >= self.max_queue:
                    raise _HttpError(503, BUSY)
                self._waiting += 1
                try:
                    while self._busy >= self.num_parallel:
                        self._slot_free.wait()
                finally:
                    self._waiting -= 1
            self._busy += 1
        return time.perf_counter_ns() - t0

    def _release_slot(self) -> None:
        with self._slot_free:
            self._busy -= 1
            self._slot_free.notify()


def default_models() -> list[FakeModel]:
    return [
        FakeModel("llama3.2:latest"),
        FakeModel(
            "qwen3:4b",
            family="qwen3",
            parameter_size="4.0B",
            parameter_count=4_022_468_096,
            size=2_497_293_918,
            context_length=40960,
            embedding_length=2560,
            block_count=36,
            head_count=32,
            head_count_kv=8,
            capabilities=("completion", "tools", "thinking"),
            thinking_tokens=20,
        ),
        FakeModel(
            "llama3.2-vision:11b",
            family="mllama",
            parameter_size="10.7B",
            parameter_count=10_670_220_835,
            size=7_901_829_417,
            size_vram=7_348_701_358,  # 7%/93% CPU/GPU, as on a 16 GB M2
            embedding_length=4096,
            block_count=40,
            head_count=32,
            capabilities=("completion", "vision"),
            prefill_tps=800.0,
            decode_tps=200.0,
            image_tokens=16,
        ),
    ]


def default_registry() -> list[RegistryModel]:
    return [
        RegistryModel(
            FakeModel(
                "smollm2:135m",
                parameter_size="135M",
                parameter_count=134_515_008,
                size=270_898_672,
                quantization="F16",
                family="llama",
            )
        ),
        RegistryModel(
            FakeModel(
                "qwen2.5:0.5b",
                parameter_size="494M",
                parameter_count=494_032_768,
                size=397_821_319,
                family="qwen2",
            )
        ),
    ]


def tokenize_chat(messages: list[dict[str, Any]], model: FakeModel) -> list[str]:
    tokens: list[str] = []
    for m in messages:
        tokens += [f"<{m.get('role', 'user')}>", *str(m.get("content", "")).split(), "<end>"]
        tokens += ["<image>"] * (len(m.get("images") or []) * model.image_tokens)
    return [*tokens, "<assistant>"]


def tokenize_generate(body: dict[str, Any], model: FakeModel) -> list[str]:
    words = str(body.get("prompt", "")).split()
    images = ["<image>"] * (len(body.get("images") or []) * model.image_tokens)
    if body.get("raw"):
        return images + words
    return ["<user>", *images, *words, "<end>", "<assistant>"]


ROUTES = frozenset({
    ("GET", "/"), ("HEAD", "/"), ("GET", "/api/version"), ("HEAD", "/api/version"),
    ("GET", "/api/tags"), ("HEAD", "/api/tags"), ("GET", "/api/ps"),
    ("POST", "/api/show"), ("DELETE", "/api/delete"), ("POST", "/api/copy"),
    ("POST", "/api/pull"), ("POST", "/api/generate"), ("POST", "/api/chat"),
    ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
})  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"
    # Go's net package sets TCP_NODELAY on every connection: each flushed part leaves at once
    # instead of waiting for the client's (possibly delayed) ACK of the one before.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    # -- plumbing -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        # gin's c.JSON: no trailing newline
        self._send(status, go_json(obj).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunks = 0

    def _line(self, obj: dict[str, Any], *, ensure_ascii: bool = True) -> None:
        data = go_json(obj, ensure_ascii=ensure_ascii).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
        self._chunks += 1

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            raise _HttpError(400, "missing request body")
        try:
            body = json.loads(raw)
        except ValueError:
            ch = raw.strip()[:1].decode(errors="replace")
            raise _HttpError(
                400, f"invalid character '{ch}' looking for beginning of value"
            ) from None
        if not isinstance(body, dict):
            raise _HttpError(400, "json: cannot unmarshal into Go value of type api.Request")
        return body

    def _record(self, body: Any) -> None:
        with self.fake._lock:
            self.fake.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "json": body,
                    "t_ns": time.perf_counter_ns(),
                }
            )

    # -- routing ------------------------------------------------------------------------------

    def _route(self) -> None:
        path = self.path.split("?")[0]
        if (self.command, path) not in ROUTES:
            known = any(p == path for _, p in ROUTES)
            status, text = (405, "405 method not allowed") if known else (404, "404 page not found")
            self._send(status, text.encode(), "text/plain")
            return
        try:
            body = self._body() if self.command in ("POST", "DELETE") else {}
            self._record(body)
            hook = self.fake.on_request
            if hook is not None and hook(path):
                self._drop()
                return
            fault = self.fake._fault(path)
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay_s)
                fault = None
            if fault is not None and fault.kind == "error":
                raise _HttpError(fault.status, fault.message)
            handler = getattr(
                self, "h_" + path.strip("/").replace("api/", "").replace("/", "_") or "h_root"
            )
            handler(body, fault)
        except _HttpError as err:
            self._error(err.status, err.message)

    do_GET = do_POST = do_DELETE = do_HEAD = _route

    # -- small endpoints ----------------------------------------------------------------------

    def h_(self, body: dict[str, Any], fault: Fault | None) -> None:
        if self.command == "HEAD":
            self._send(200, b"", "text/plain; charset=utf-8")
        else:
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def h_version(self, body: dict[str, Any], fault: Fault | None) -> None:
        self._json({"version": self.fake.version})

    def _details(self, m: FakeModel) -> dict[str, Any]:
        return {
            "parent_model": "", "format": "gguf", "family": m.family, "families": [m.family],
            "parameter_size": m.parameter_size, "quantization_level": m.quantization,
        }  # fmt: skip

    def h_tags(self, body: dict[str, Any], fault: Fault | None) -> None:
        models = [
            {"name": m.name, "model": m.name, "modified_at": _rfc3339(_now_local()), "size": m.size,
             "digest": m.digest, "details": {**self._details(m), "context_length": m.context_length,
             "embedding_length": m.embedding_length}, "capabilities": list(m.capabilities)}
            for m in self.fake.models.values()
        ]  # fmt: skip
        self._json({"models": models})

    def h_ps(self, body: dict[str, Any], fault: Fault | None) -> None:
        with self.fake._lock:
            entries = list(self.fake.loaded.values())
        models = []
        for e in entries:
            m = e.model
            models.append({
                "name": m.name, "model": m.name, "size": m.size, "digest": m.digest,
                "details": self._details(m), "expires_at": _rfc3339(e.expires),
                "size_vram": m.size if m.size_vram is None else m.size_vram,
                "context_length": e.num_ctx,
            })  # fmt: skip
        self._json({"models": models})

    def h_show(self, body: dict[str, Any], fault: Fault | None) -> None:
        name = body.get("model") or body.get("name") or ""
        if not name:
            raise _HttpError(400, "model is required")
        m = self.fake.find(name)
        if m is None:
            raise _HttpError(404, f"model '{full_name(name)}' not found")
        arch = m.family
        info = {
            "general.architecture": arch, "general.parameter_count": m.parameter_count,
            "general.file_type": 15, "general.quantization_version": 2,
            f"{arch}.block_count": m.block_count, f"{arch}.context_length": m.context_length,
            f"{arch}.embedding_length": m.embedding_length,
            f"{arch}.attention.head_count": m.head_count,
            f"{arch}.attention.head_count_kv": m.head_count_kv,
            f"{arch}.attention.key_length": m.embedding_length // m.head_count,
            "tokenizer.ggml.tokens": [],
        }  # fmt: skip
        self._json({
            "license": "FAKE LICENSE", "modelfile": f"# Modelfile\nFROM {m.name}\n",
            "parameters": 'stop                           "<end>"', "template": "{{ .Prompt }}",
            "details": self._details(m), "model_info": info, "tensors": [],
            "capabilities": list(m.capabilities), "modified_at": _rfc3339(_now_local()),
        })  # fmt: skip

    def h_delete(self, body: dict[str, Any], fault: Fault | None) -> None:
        name = body.get("model") or body.get("name") or ""
        with self.fake._lock:
            m = self.fake.find(name)
            if m is None:
                raise _HttpError(404, f"model '{name}' not found")
            del self.fake.models[m.name]
            self.fake.loaded.pop(m.name, None)
        self._send(200, b"", "application/json; charset=utf-8")

    def h_copy(self, body: dict[str, Any], fault: Fault | None) -> None:
        src = self.fake.find(body.get("source", ""))
        if src is None:
            raise _HttpError(404, f'model "{body.get("source", "")}" not found')
        from dataclasses import replace

        self.fake.add(replace(src, name=body.get("destination", ""), digest=src.digest))
        self._send(200, b"", "application/json; charset=utf-8")

    # -- pull ---------------------------------------------------------------------------------

    def h_pull(self, body: dict[str, Any], fault: Fault | None) -> None:
        name = full_name(body.get("model") or body.get("name") or "")
        entry = self.fake.registry.get(name)
        if body.get("stream") is False:
            if entry is None:
                raise _HttpError(500, "pull model manifest: file does not exist")
            self._install(entry)
            self._json({"status": "success"})
            return
        self._start_stream()
        self._line({"status": "pulling manifest"})
        if entry is None:
            self._line({"error": "pull model manifest: file does not exist"})
            self._end_stream()
            return
        for digest, total in entry.layers:
            done = self.fake.partial.get(digest, 0)
            line: dict[str, Any] = {
                "status": f"pulling {digest[:12]}",
                "digest": f"sha256:{digest}",
                "total": total,
            }
            if done:
                line["completed"] = done
            self._line(line)
            while done < total:
                if fault is not None and self._chunks >= fault.after:
                    if fault.kind == "drop":
                        self._drop()
                        return
                    if fault.kind == "error_after":  # e.g. a registry or disk failure mid-pull
                        self._line({"error": fault.message})
                        self._end_stream()
                        return
                    if fault.kind == "close_after":
                        self._end_stream()
                        return
                time.sleep(self.fake.pull_delay_s)
                done = min(total, done + self.fake.pull_chunk)
                self.fake.partial[digest] = done
                self._line({**line, "completed": done})
        for status in ("verifying sha256 digest", "writing manifest"):
            self._line({"status": status})
        self._install(entry)
        self._line({"status": "success"})
        self._end_stream()

    def _install(self, entry: RegistryModel) -> None:
        with self.fake._lock:
            self.fake.add(entry.model)
            for digest, _ in entry.layers:
                self.fake.partial.pop(digest, None)

    # -- generation ---------------------------------------------------------------------------

    def h_generate(self, body: dict[str, Any], fault: Fault | None) -> None:
        self._generation(body, fault, chat=False)

    def h_chat(self, body: dict[str, Any], fault: Fault | None) -> None:
        self._generation(body, fault, chat=True)

    # -- OpenAI compatibility (§13.1): token counts in `usage`, no durations --------------------

    def h_v1_models(self, body: dict[str, Any], fault: Fault | None) -> None:
        data = [
            {"id": m.name, "object": "model", "created": 1746371864, "owned_by": "library"}
            for m in self.fake.models.values()
        ]
        self._json({"object": "list", "data": data or None})

    def h_v1_chat_completions(self, body: dict[str, Any], fault: Fault | None) -> None:
        name = str(body.get("model") or "")
        model = self.fake.find(name)
        if model is None:
            error = {"message": f"model '{name}' not found", "type": "not_found_error"}
            self._json({"error": {**error, "param": None, "code": None}}, 404)
            return
        prompt = tokenize_chat(body.get("messages") or [], model)
        last = (body.get("messages") or [{}])[-1]
        content = last.get("content")
        if isinstance(content, list):  # text and image parts
            content = " ".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        script = model.scripted(str(content or ""), [])
        reply = model.reply_tokens if script is None else len(script)
        n = min(int(body.get("max_tokens") or reply), reply)
        base = {"id": "chatcmpl-447", "object": "chat.completion.chunk", "created": 1700000000,
                "model": name, "system_fingerprint": "fp_ollama"}  # fmt: skip
        usage = {"prompt_tokens": len(prompt), "completion_tokens": n,
                 "total_tokens": len(prompt) + n}  # fmt: skip
        time.sleep(len(prompt) / model.prefill_tps)
        reason = "length" if n < reply else "stop"
        if body.get("stream") is not True:
            time.sleep(n / model.decode_tps)
            text = "".join(script[:n] if script is not None else (f" tok{i}" for i in range(n)))
            choice = {"index": 0, "message": {"role": "assistant", "content": text},
                      "finish_reason": reason}  # fmt: skip
            self._json({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunks = 0

        def event(obj: Any) -> None:
            data = f"data: {obj if isinstance(obj, str) else go_json(obj)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            self._chunks += 1

        for i in range(n):
            time.sleep(1 / model.decode_tps)
            if fault is not None and fault.kind == "error_after" and i >= fault.after:
                # Ollama re-encodes a mid-stream error as one more chunk and ends without [DONE].
                event({**base, "model": "", "choices": [{"index": 0, "delta": {}}]})
                self._end_stream()
                return
            piece = script[i] if script is not None else f" tok{i}"
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            event({**base, "choices": [], "usage": usage})
        event("[DONE]")
        self._end_stream()

    def _generation(self, body: dict[str, Any], fault: Fault | None, *, chat: bool) -> None:
        t_start = time.perf_counter_ns()
        name = str(body.get("model") or "")
        if chat and not name:
            raise _HttpError(400, "model is required")
        model = self.fake.find(name)
        if model is None:
            raise _HttpError(404, f"model '{name}' not found")
        keep_alive = None
        if "keep_alive" in body:
            try:
                keep_alive = parse_keep_alive(body["keep_alive"])
            except ValueError as err:
                raise _HttpError(400, str(err)) from None
        think = body.get("think")
        thinks = "thinking" in model.capabilities
        if think is True and not thinks:
            raise _HttpError(400, f'"{name}" does not support thinking')
        thinking_on = thinks and think is not False
        messages = body.get("messages") or []
        images = (
            [i for m in messages for i in (m.get("images") or [])]
            if chat
            else body.get("images") or []
        )
        if images and "vision" not in model.capabilities:
            raise _HttpError(
                400, f"registry.ollama.ai/library/{model.name} does not support vision"
            )
        options = body.get("options") or {}
        created = _created_at

        def msg(content: str, thinking: str | None = None) -> dict[str, Any]:
            if chat:
                m: dict[str, Any] = {"role": "assistant", "content": content}
                if thinking:
                    m["thinking"] = thinking
                return {"model": name, "created_at": created(), "message": m}
            out: dict[str, Any] = {"model": name, "created_at": created(), "response": content}
            if thinking:
                out["thinking"] = thinking
            return out

        empty = not messages if chat else not str(body.get("prompt") or "")
        if empty:  # a load or unload request: a single object, no metrics
            if keep_alive == 0:
                with self.fake._lock:
                    self.fake.loaded.pop(model.name, None)
                self._json({**msg(""), "done": True, "done_reason": "unload"})
            else:
                self.fake._load(model, keep_alive, options.get("num_ctx"))
                self._json({**msg(""), "done": True, "done_reason": "load"})
            return

        waited = self.fake._acquire_slot()
        try:
            self._run(body, fault, chat, model, name, keep_alive, thinking_on, msg, t_start, waited)
        finally:
            self.fake._release_slot()

    def _run(self, body: dict[str, Any], fault: Fault | None, chat: bool, model: FakeModel,
             name: str, keep_alive: float | None, thinking_on: bool, msg: Any, t_start: int,
             waited: int) -> None:  # fmt: skip
        options = body.get("options") or {}
        load_ns = waited + self.fake._load(model, keep_alive, options.get("num_ctx"))
        prompt = tokenize_chat(body["messages"], model) if chat else tokenize_generate(body, model)
        last = body["messages"][-1] if chat else body
        text = str(last.get("content" if chat else "prompt") or "")
        script = model.scripted(text, list(last.get("images") or []))
        with self.fake._lock:
            entry = self.fake.loaded[model.name]
            cached = 0
            if self.fake.prompt_cache:
                earlier = (
                    [entry.cache, *model.seen] if self.fake.cache_every_prompt else [entry.cache]
                )
                cached = max(_shared_prefix(seen, prompt) for seen in earlier)
                cached = min(cached, len(prompt) - 1)  # llama.cpp evaluates at least one token
        new = len(prompt) - cached
        prefill_ns = round(new / model.prefill_tps * 1e9)
        limit = int(options.get("num_predict", -1))
        n_think = model.thinking_count(text) if thinking_on else 0
        answer_cap = model.reply_tokens if script is None else len(script)
        total_cap = n_think + answer_cap
        n_total = total_cap if limit < 0 else min(limit, total_cap)
        done_reason = "length" if 0 <= limit < total_cap else "stop"
        time.sleep(prefill_ns / 1e9)
        streaming = body.get("stream", True) is not False
        if streaming:
            self._start_stream()
        per_token = 1 / model.decode_tps
        texts: list[str] = []
        thoughts: list[str] = []
        t_first: int | None = None
        generated: list[str] = []
        for i in range(n_total):
            time.sleep(per_token)
            if (
                fault is not None
                and fault.kind in ("error_after", "close_after", "drop")
                and i >= fault.after
            ):
                if not streaming:
                    raise _HttpError(fault.status, fault.message)
                if fault.kind == "error_after":
                    self._line({"error": fault.message})
                    self._end_stream()
                elif fault.kind == "close_after":
                    self._end_stream()
                else:
                    self._drop()
                return
            thinking = i < n_think
            k = i if thinking else i - n_think
            token = (model.reply_text[k % len(model.reply_text)] if model.reply_text and not thinking
                     else f" {'think' if thinking else 'tok'}{k}")  # fmt: skip
            if script is not None and not thinking:
                token = script[k]
            generated.append(token.strip())
            if t_first is None:
                t_first = time.perf_counter_ns()
            if thinking:
                thoughts.append(token)
            else:
                texts.append(token)
            if streaming:
                part = (
                    {**msg("", token), "done": False} if thinking else {**msg(token), "done": False}
                )
                self._line(part, ensure_ascii=not model.reply_text)
        eval_ns = round(n_total / model.decode_tps * 1e9) if n_total else 0
        total_ns = max(time.perf_counter_ns() - t_start, load_ns + prefill_ns + eval_ns)
        with self.fake._lock:
            entry.cache = prompt + generated
            if self.fake.cache_every_prompt:
                model.seen.append(prompt + generated)
        final: dict[str, Any] = {**msg(""), "done": True, "done_reason": done_reason}
        if not chat and not body.get("raw"):
            final["context"] = list(range(1, min(len(prompt), 8) + 1))
        metrics = {
            "total_duration": total_ns, "load_duration": load_ns,
            "prompt_eval_count": len(prompt), "prompt_eval_duration": prefill_ns,
            "eval_count": n_total, "eval_duration": eval_ns,
        }  # fmt: skip
        if self.fake.report_cached_count:
            metrics["prompt_eval_cached_count"] = cached
        final.update({k: v for k, v in metrics.items() if v})  # omitempty
        with self.fake._lock:
            self.fake.truths.append({
                "model": model.name, "prompt_tokens": len(prompt), "cached_tokens": cached,
                "new_tokens": new, "eval_tokens": n_total, "thinking_tokens": n_think if n_total >= n_think else n_total,
                "prompt_eval_duration_ns": prefill_ns, "eval_duration_ns": eval_ns,
                "load_duration_ns": load_ns, "t_request_ns": t_start, "t_first_token_ns": t_first,
                "prefill_tps": model.prefill_tps, "decode_tps": model.decode_tps,
            })  # fmt: skip
        if streaming:
            self._line(final)
            self._end_stream()
            return
        if chat:
            final["message"] = {"role": "assistant", "content": "".join(texts)}
            if thoughts:
                final["message"]["thinking"] = "".join(thoughts)
        else:
            final["response"] = "".join(texts)
            if thoughts:
                final["thinking"] = "".join(thoughts)
        self._json(final)
