"""An async client for OpenAI-compatible servers: llama-server, vLLM, LM Studio, Ollama /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from llmbox.client._http import HttpBase, Timeouts
from llmbox.client._ndjson import Part
from llmbox.client._sse import DONE, iter_sse
from llmbox.errors import LlmboxError, ModelNotFound, ServerError, StreamError


class OpenAIClient(HttpBase):
    """``base_url`` is the server root (``http://127.0.0.1:8080``); ``/v1`` is added per call.

    The API key is sent as a bearer token and never logged or stored.
    """

    server = "the OpenAI-compatible server"
    api = "an OpenAI-compatible API"
    host_options = "--host"
    probe = "v1/models"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout: float | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        fast: bool | None = None,
    ) -> None:
        host = base_url.rstrip("/")
        if host.endswith("/v1"):
            host = host[: -len("/v1")]
        super().__init__(
            host,
            timeout=timeout,
            timeouts=timeouts,
            transport=transport,
            max_connections=max_connections,
            fast=fast,
            headers={"authorization": f"Bearer {api_key}"} if api_key else None,
        )

    def _model_error(self, status: int, message: str, model: str | None) -> LlmboxError | None:
        if status == 404 and model is not None and "model" in message.lower():
            return ModelNotFound(
                model, message=message, hint="check the model name with GET /v1/models"
            )
        if status == 401:
            return ServerError(message, status=401, hint="set --api-key or OPENAI_API_KEY")
        return None

    async def models(self) -> list[dict[str, Any]]:
        data = await self.get_json("v1/models")
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise self.wrong_shape("/v1/models", 'no "data" list')
        return [m for m in models if isinstance(m, dict)]

    async def stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[Part]:
        """POST a streamed request; yield each event until ``[DONE]`` (missing: an error)."""
        done = False
        # llama-server closes the connection after each stream while advertising keep-alive,
        # so a pooled connection fails at random on the next request; don't reuse it.
        async with self.open_stream(
            path, body, model=body.get("model"), headers={"connection": "close"}
        ) as response:
            async for part in iter_sse(response.aiter_bytes()):
                if part.data is DONE:
                    done = True
                    break
                if "error" in part.data:
                    error = part.data["error"]
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise StreamError(str(message))
                yield part
        if not done:
            raise StreamError(f"stream from {self.host} ended without data: [DONE]")
