"""The async Ollama client: the endpoints of Ollama's native API over the shared HTTP base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import perf_counter_ns
from typing import Any

import httpx
from pydantic import ValidationError

from llmbox.client._http import HttpBase, Timeouts
from llmbox.client._models import ModelSummary, PullProgress, RunningModel, ShowResponse
from llmbox.client._ndjson import NdjsonDecoder, Part
from llmbox.client._tokens import OnToken, TokenScanner
from llmbox.config import DEFAULT_HOST
from llmbox.errors import LlmboxError, ModelNotFound, StreamError


def _check_part(data: dict[str, Any], status: int) -> bool:
    """Raise for an ``{"error": ...}`` line (Ollama's mid-stream error); True for the final part."""
    if "error" in data:
        raise StreamError(str(data["error"]), status=status)
    return data.get("done") is True


#: Every /api/show answer has some of these (Ollama has sent ``details`` since 0.1).
_SHOW_KEYS = frozenset({"details", "model_info", "modelfile", "template", "parameters"})


class OllamaClient(HttpBase):
    """Talks to one Ollama server.

    ``timeout`` is the user's ``--timeout`` (None: the defaults; 0: no limit; see ``Timeouts``).
    Pass ``transport`` to test without a network.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        timeout: float | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        fast: bool | None = None,
    ) -> None:
        super().__init__(
            host,
            timeout=timeout,
            timeouts=timeouts,
            transport=transport,
            max_connections=max_connections,
            fast=fast,
            headers={"accept": "application/json"},
        )

    def _model_error(self, status: int, message: str, model: str | None) -> LlmboxError | None:
        if status == 404 and model is not None and "not found" in message:
            return ModelNotFound(model, message=message)
        return None

    def _models(self, data: Any, path: str) -> list[Any]:
        """The ``models`` list of ``/api/tags`` and ``/api/ps`` (Ollama always sends one)."""
        if not isinstance(data, dict) or "models" not in data:
            raise self.wrong_shape(path, 'no "models" list')
        models = data["models"] or []
        if not isinstance(models, list):
            raise self.wrong_shape(path, '"models" is not a list')
        return models

    def _parse(self, kind: type[Any], data: Any, path: str) -> Any:
        try:
            return kind.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "the answer"
            raise self.wrong_shape(path, f"{where}: {first['msg']}") from None

    def _ended_early(self) -> StreamError:
        return StreamError(f"stream from {self.host} ended before the final part (no done:true)")

    async def stream(
        self, path: str, body: dict[str, Any], *, model: str | None = None, until_done: bool = True
    ) -> AsyncIterator[Part]:
        """POST ``body`` and yield each NDJSON part with its arrival time.

        An ``{"error": ...}`` line raises StreamError with the server's message; with
        ``until_done``, a stream that ends without ``"done": true`` raises StreamError too.
        """
        done = False
        async with self.open_stream(path, body, model=model) as response:
            decoder = NdjsonDecoder()
            async for chunk in response.aiter_bytes():
                for part in decoder.feed(chunk, perf_counter_ns()):
                    done = _check_part(part.data, response.status_code)
                    yield part
            for part in decoder.flush(perf_counter_ns()):
                done = _check_part(part.data, response.status_code)
                yield part
        if until_done and not done:
            raise self._ended_early()

    async def generation(
        self, path: str, body: dict[str, Any], on_token: OnToken, *, chat: bool
    ) -> dict[str, Any]:
        """Stream a generation, calling ``on_token(arrival_ns, is_answer)`` per token; return the
        final part (with Ollama's metrics). Errors as ``stream``; see ``TokenScanner``."""
        scanner = TokenScanner(on_token, chat=chat)
        body = {**body, "stream": True}
        model = body.get("model")
        await self.stream_into(path, body, scanner.feed, model=model, end=scanner.close)
        if scanner.final is None:
            raise self._ended_early()
        return scanner.final

    # -- endpoints -----------------------------------------------------------------------------

    async def version(self) -> str:
        data = await self.get_json("api/version")
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str) or not version:
            raise self.wrong_shape("/api/version", 'no "version" string')
        return version

    async def tags(self) -> list[ModelSummary]:
        path = "/api/tags"
        return [
            self._parse(ModelSummary, m, path)
            for m in self._models(await self.get_json(path[1:]), path)
        ]

    async def ps(self) -> list[RunningModel]:
        path = "/api/ps"
        return [
            self._parse(RunningModel, m, path)
            for m in self._models(await self.get_json(path[1:]), path)
        ]

    async def show(self, model: str) -> ShowResponse:
        response = await self.request("POST", "api/show", json={"model": model}, model=model)
        data = self.check_json(response)
        if not isinstance(data, dict) or not _SHOW_KEYS.intersection(data):
            raise self.wrong_shape("/api/show", 'no "details" or "model_info"')
        result: ShowResponse = self._parse(ShowResponse, data, "/api/show")
        return result

    async def delete(self, model: str) -> None:
        await self.request("DELETE", "api/delete", json={"model": model}, model=model)

    async def pull(self, model: str, *, insecure: bool = False) -> AsyncIterator[PullProgress]:
        """Yield pull progress; ends after ``success`` (a stream that stops short raises)."""
        body = {"model": model, "insecure": insecure, "stream": True}
        ok = False
        try:
            async for part in self.stream("api/pull", body, model=model, until_done=False):
                progress: PullProgress = self._parse(PullProgress, part.data, "/api/pull")
                ok = progress.status == "success"
                yield progress
        except StreamError as err:
            if "file does not exist" in err.message or "not found" in err.message:
                raise ModelNotFound(
                    model, message=err.message, hint="check the name at https://ollama.com/library"
                ) from None
            raise
        if not ok:
            raise StreamError(f"pull of {model} ended before 'success'")

    def generate(self, body: dict[str, Any]) -> AsyncIterator[Part]:
        """Stream ``/api/generate``; ``body`` is Ollama's request (model, prompt, options, ...)."""
        return self.stream("api/generate", {**body, "stream": True}, model=body.get("model"))

    def chat(self, body: dict[str, Any]) -> AsyncIterator[Part]:
        """Stream ``/api/chat``; ``body`` is Ollama's request (model, messages, options, ...)."""
        return self.stream("api/chat", {**body, "stream": True}, model=body.get("model"))

    async def complete(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed ``/api/generate`` or ``/api/chat`` call: the single response object."""
        response = await self.request(
            "POST", path, json={**body, "stream": False}, model=body.get("model"), slow=True
        )
        data = self.check_json(response)
        if not isinstance(data, dict):
            raise self.wrong_shape(f"/{path}", "not a JSON object")
        return data

    async def load(self, model: str, *, keep_alive: str | float | None = None) -> None:
        """Load ``model`` into memory (an empty generate request); a load may take minutes
        without a byte, so it is bounded by the idle limit, not the metadata one."""
        body: dict[str, Any] = {"model": model}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        await self.complete("api/generate", body)

    async def unload(self, model: str) -> None:
        """Ask the server to unload ``model`` now (``keep_alive: 0``); eviction is asynchronous."""
        await self.complete("api/generate", {"model": model, "keep_alive": 0})
