"""An async client for OpenAI-compatible servers: llama-server, vLLM, LM Studio, Ollama /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from llmbox import __version__
from llmbox.client._ndjson import Part
from llmbox.client._ollama import _error_message
from llmbox.client._sse import DONE, iter_sse
from llmbox.config import CONNECT_TIMEOUT_S
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable, StreamError


class OpenAIClient:
    """``base_url`` is the server root (``http://127.0.0.1:8080``); ``/v1`` is added per call.

    The API key is sent as a bearer token and never logged or stored.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.host = base_url.rstrip("/")
        if self.host.endswith("/v1"):
            self.host = self.host[: -len("/v1")]
        headers = {"user-agent": f"llmbox/{__version__}"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=self.host + "/",
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S, pool=None),
            transport=transport,
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=None),
            trust_env=False,
            # Building an SSL context loads the CA bundle (~40 ms of CPU per client); a plain
            # http:// server never uses it, so only https:// hosts pay for verification.
            verify=self.host.startswith("https://"),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _unreachable(self, err: httpx.HTTPError) -> Exception:
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnreachable(self.host, server="the OpenAI-compatible server")
        return StreamError(f"connection to {self.host} failed: {err or type(err).__name__}")

    def _raise_for(self, response: httpx.Response, model: str | None) -> None:
        message = _error_message(response)
        if response.status_code == 404 and model is not None and "model" in message.lower():
            raise ModelNotFound(
                model, message=message, hint="check the model name with GET /v1/models"
            )
        if response.status_code == 401:
            raise ServerError(message, status=401, hint="set --api-key or OPENAI_API_KEY")
        raise ServerError(message, status=response.status_code)

    async def get_json(self, path: str) -> Any:
        try:
            response = await self._http.get(path)
        except httpx.HTTPError as err:
            raise self._unreachable(err) from None
        if response.status_code >= 400:
            self._raise_for(response, None)
        return response.json()

    async def models(self) -> list[dict[str, Any]]:
        data = await self.get_json("v1/models")
        return [m for m in (data.get("data") or []) if isinstance(m, dict)]

    async def stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[Part]:
        """POST a streamed request; yield each event until ``[DONE]`` (missing: an error)."""
        model = body.get("model")
        done = False
        try:
            # llama-server closes the connection after each stream while advertising keep-alive,
            # so a pooled connection fails at random on the next request; don't reuse it.
            async with self._http.stream(
                "POST", path, json=body, headers={"connection": "close"}
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_for(response, model)
                async for part in iter_sse(response.aiter_bytes()):
                    if part.data is DONE:
                        done = True
                        break
                    if "error" in part.data:
                        error = part.data["error"]
                        message = error.get("message", error) if isinstance(error, dict) else error
                        raise StreamError(str(message))
                    yield part
        except httpx.HTTPError as err:
            raise self._unreachable(err) from None
        except ValueError as err:
            raise StreamError(f"malformed event stream from {self.host}: {err}") from None
        if not done:
            raise StreamError(f"stream from {self.host} ended without data: [DONE]")
