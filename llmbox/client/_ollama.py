"""The async Ollama client: one ``httpx.AsyncClient``, errors mapped at one chokepoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter_ns
from types import TracebackType
from typing import Any

import httpx

from llmbox import __version__
from llmbox.client._models import ModelSummary, PullProgress, RunningModel, ShowResponse
from llmbox.client._ndjson import NdjsonDecoder, Part
from llmbox.client._tokens import OnToken, TokenScanner
from llmbox.config import CONNECT_TIMEOUT_S, DEFAULT_HOST
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable, StreamError


def _error_message(response: httpx.Response) -> str:
    """Ollama's ``{"error": "..."}``, or the raw body when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI-style servers
        return str(body["error"].get("message", body["error"]))
    text = response.text.strip()
    return text or f"HTTP {response.status_code} {response.reason_phrase}"


def _check_part(data: dict[str, Any], status: int) -> bool:
    """Raise for an ``{"error": ...}`` line (Ollama's mid-stream error); True for the final part."""
    if "error" in data:
        raise StreamError(str(data["error"]), status=status)
    return data.get("done") is True


STREAMS_PER_POOL = 16


class OllamaClient:
    """Talks to one Ollama server.

    ``timeout`` bounds reads (None: wait as long as a model load takes); connecting is bounded by
    ``connect_timeout``. Pass ``transport`` to test without a network.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.host = host.rstrip("/")

        def pool(size: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=self.host + "/",
                timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=None),
                transport=transport,
                headers={"user-agent": f"llmbox/{__version__}", "accept": "application/json"},
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
        self._pools = [pool(min(max_connections, STREAMS_PER_POOL)) for _ in range(shards)]
        self._http = self._pools[0]
        self._next_pool = 0

    async def __aenter__(self) -> OllamaClient:
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

    # -- the chokepoint ------------------------------------------------------------------------

    def _raise_for(self, response: httpx.Response, model: str | None) -> None:
        message = _error_message(response)
        if response.status_code == 404 and model is not None and "not found" in message:
            raise ModelNotFound(model, message=message)
        raise ServerError(message, status=response.status_code)

    def _transport_error(self, err: httpx.HTTPError, *, streaming: bool) -> Exception:
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnreachable(self.host, detail=str(err) or None)
        if isinstance(err, httpx.TimeoutException):
            return ServerError(
                f"no answer from {self.host} within the read timeout",
                hint="raise --timeout (or 0 for no limit)",
            )
        if streaming:
            return StreamError(
                f"connection to {self.host} lost mid-stream ({err or type(err).__name__})"
            )
        return ServerError(f"HTTP error talking to {self.host}: {err or type(err).__name__}")

    async def _request(
        self, method: str, path: str, *, json: Any = None, model: str | None = None
    ) -> httpx.Response:
        try:
            try:
                response = await self._http.request(method, path, json=json)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if method != "GET":
                    raise
                # A pooled keep-alive connection the server has since closed: try a fresh one.
                response = await self._http.request(method, path, json=json)
        except httpx.HTTPError as err:
            raise self._transport_error(err, streaming=False) from None
        if response.status_code >= 400:
            self._raise_for(response, model)
        return response

    @asynccontextmanager
    async def _open_stream(
        self, path: str, body: dict[str, Any], model: str | None
    ) -> AsyncIterator[httpx.Response]:
        """POST ``body`` for a streamed answer; map HTTP and transport errors at one place."""
        try:
            self._next_pool = (self._next_pool + 1) % len(self._pools)
            http = self._pools[self._next_pool]
            async with http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_for(response, model)
                yield response
        except httpx.HTTPError as err:
            raise self._transport_error(err, streaming=True) from None
        except ValueError as err:  # a line that is not JSON
            raise StreamError(f"malformed stream from {self.host}: {err}") from None

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
        async with self._open_stream(path, body, model) as response:
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
        async with self._open_stream(path, {**body, "stream": True}, body.get("model")) as response:
            feed = scanner.feed
            async for chunk in response.aiter_bytes():  # the per-token hot path
                feed(chunk, perf_counter_ns())
            scanner.close(perf_counter_ns())
        if scanner.final is None:
            raise self._ended_early()
        return scanner.final

    # -- endpoints -----------------------------------------------------------------------------

    async def version(self) -> str:
        response = await self._request("GET", "api/version")
        return str(response.json().get("version", ""))

    async def tags(self) -> list[ModelSummary]:
        response = await self._request("GET", "api/tags")
        return [ModelSummary.model_validate(m) for m in response.json().get("models") or []]

    async def ps(self) -> list[RunningModel]:
        response = await self._request("GET", "api/ps")
        return [RunningModel.model_validate(m) for m in response.json().get("models") or []]

    async def show(self, model: str) -> ShowResponse:
        response = await self._request("POST", "api/show", json={"model": model}, model=model)
        return ShowResponse.model_validate(response.json())

    async def delete(self, model: str) -> None:
        await self._request("DELETE", "api/delete", json={"model": model}, model=model)

    async def pull(self, model: str, *, insecure: bool = False) -> AsyncIterator[PullProgress]:
        """Yield pull progress; ends after ``success`` (a stream that stops short raises)."""
        body = {"model": model, "insecure": insecure, "stream": True}
        ok = False
        try:
            async for part in self.stream("api/pull", body, model=model, until_done=False):
                progress = PullProgress.model_validate(part.data)
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
        response = await self._request(
            "POST", path, json={**body, "stream": False}, model=body.get("model")
        )
        data: dict[str, Any] = response.json()
        return data

    async def load(self, model: str, *, keep_alive: str | float | None = None) -> None:
        """Load ``model`` into memory (an empty generate request)."""
        body: dict[str, Any] = {"model": model}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        await self.complete("api/generate", body)

    async def unload(self, model: str) -> None:
        """Ask the server to unload ``model`` now (``keep_alive: 0``); eviction is asynchronous."""
        await self.complete("api/generate", {"model": model, "keep_alive": 0})
