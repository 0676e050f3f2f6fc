"""OpenAI-compatible servers: ``/v1/chat/completions`` (and ``/v1/completions``) over SSE.

Server-side prefill/decode come from llama.cpp's ``timings`` when the server sends them (with
``cache_n``, so prefill stays honest). Otherwise token counts come from ``usage`` and the durations
from the client's stream timings; with neither, tokens are counted as stream chunks. Each sample
says which (``counts_source``), so an estimate is never presented as a measurement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import perf_counter_ns
from typing import Any

from llmbox.backends.base import Capabilities, GenRequest, TokenClock
from llmbox.client._ndjson import Part
from llmbox.client._openai import OpenAIClient
from llmbox.errors import LlmboxError, ModelNotFound
from llmbox.names import close_names
from llmbox.results import ModelInfo, RunSample, Server


def sample_from_stream_end(
    sample: RunSample,
    *,
    usage: dict[str, Any] | None,
    timings: dict[str, Any] | None,
    chunks: int,
    clock: TokenClock,
) -> None:
    """Fill counts and durations, best source first: timings, then usage, then chunk counts."""
    if timings and "predicted_n" in timings:
        cache_n = int(timings.get("cache_n", 0))
        sample.prompt_eval_count = int(timings.get("prompt_n", 0)) + cache_n
        sample.cached_prompt_tokens = cache_n
        sample.prompt_eval_duration_ns = round(float(timings.get("prompt_ms", 0.0)) * 1e6)
        sample.eval_count = int(timings["predicted_n"])
        sample.eval_duration_ns = round(float(timings.get("predicted_ms", 0.0)) * 1e6)
        sample.counts_source = "server"
        return
    # No server durations: time prefill as TTFT and decode from first to last token, client-side.
    first, last = clock.first_any, clock.last
    if first is not None:
        sample.prompt_eval_duration_ns = first - clock.t0
    if first is not None and last is not None and last > first:
        sample.eval_duration_ns = last - first
    if usage:
        sample.prompt_eval_count = int(usage.get("prompt_tokens", 0))
        details = usage.get("prompt_tokens_details") or {}
        if isinstance(details, dict) and "cached_tokens" in details:
            sample.cached_prompt_tokens = int(details["cached_tokens"] or 0)
        sample.eval_count = int(usage.get("completion_tokens", 0))
        sample.counts_source = "usage"
    else:
        sample.eval_count = chunks
        sample.counts_source = "chunks"
    # eval_duration is first→last token, as llama.cpp's predicted_ms and Ollama's eval_duration
    # are: decode t/s = eval_count / eval_duration on every path (docs/benchmarking.md).


def request_body(req: GenRequest) -> dict[str, Any]:
    """The OpenAI-style JSON for ``req`` (chat messages, or a prompt for /v1/completions)."""
    body: dict[str, Any] = {
        "model": req.model,
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if req.seed is not None:
        body["seed"] = req.seed
    if req.ignore_eos:
        body["ignore_eos"] = True  # llama.cpp and vLLM: generate exactly max_tokens
    if req.think is not None:
        body["chat_template_kwargs"] = {"enable_thinking": bool(req.think)}
        body["reasoning_effort"] = (
            req.think if isinstance(req.think, str) else ("medium" if req.think else "none")
        )
    if req.api == "generate":
        body["prompt"] = req.prompt
        return body
    content: Any = req.prompt
    if req.images:
        content = [{"type": "text", "text": req.prompt}] + [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}
            for b64 in req.images
        ]
    earlier = [{"role": role, "content": text} for role, text in req.history]
    body["messages"] = [*earlier, {"role": "user", "content": content}]
    return body


async def sample_from_chunks(
    parts: AsyncIterator[Part], *, chat: bool, t0_ns: int, keep_text: bool = False
) -> RunSample:
    """Consume OpenAI-style stream chunks (already free of ``[DONE]`` and error objects); with
    ``keep_text`` the answer text goes to ``RunSample.answer``."""
    answer: list[str] = []
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    finish: str | None = None
    chunks = thinking = 0
    clock = TokenClock(t0_ns)
    async for part in parts:
        data = part.data
        usage = data.get("usage") or usage
        timings = data.get("timings") or timings
        for choice in data.get("choices") or ():
            if chat:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                thought = delta.get("reasoning_content") or delta.get("reasoning")
            else:
                text, thought = choice.get("text"), None
            if thought:
                thinking += 1
                chunks += 1
                clock.token(part.t_ns, answer=False)
            if text:
                chunks += 1
                clock.token(part.t_ns, answer=True)
                if keep_text:
                    answer.append(str(text))
            finish = choice.get("finish_reason") or finish
    t_end = perf_counter_ns()
    sample = RunSample(thinking_tokens=thinking, done_reason=finish)
    if keep_text:
        sample.answer = "".join(answer)
    sample_from_stream_end(sample, usage=usage, timings=timings, chunks=chunks, clock=clock)
    sample.total_duration_ns = t_end - t0_ns
    clock.fill(sample, t_end)
    return sample


class OpenAIBackend:
    kind = "openai"
    capabilities = Capabilities(
        unload=False, ignore_eos=True, images=True, memory=False, server_timings=False
    )

    def __init__(self, client: OpenAIClient) -> None:
        self.client = client
        self.host = client.host
        self._llamacpp: bool | None = None

    async def server_info(self) -> Server:
        info: dict[str, Any] = {"kind": self.kind, "host": self.host, "version": None}
        models = await self.client.models()  # raises ServerUnreachable first
        info["models"] = [m.get("id") for m in models]
        try:
            props = await self.client.get_json("props")
            if isinstance(props, dict):
                info["version"] = props.get("build_info")
                info["server"] = "llama.cpp"
        except LlmboxError:
            pass
        self._llamacpp = any(m.get("owned_by") == "llamacpp" for m in models)
        return Server.model_validate(info)

    async def model_info(self, model: str) -> ModelInfo:
        models = await self.client.models()
        # Ollama's /v1 lists "llama3.2:latest" and accepts "llama3.2"
        match = next((m for m in models if m.get("id") in (model, f"{model}:latest")), None)
        if match is None:
            single_llamacpp = len(models) == 1 and models[0].get("owned_by") == "llamacpp"
            if models and not single_llamacpp:
                served = [str(m.get("id")) for m in models]
                close = close_names(model, served)
                guess = f"did you mean {' or '.join(close)}? " if close else ""
                raise ModelNotFound(
                    model,
                    message=f"model '{model}' is not served at {self.host}",
                    hint=f"{guess}the server has: " + ", ".join(served[:5]),
                )
            match = models[0] if models else {}
        meta = match.get("meta") or {}
        # llama.cpp serves a fixed context per slot (``n_ctx``, often below what the model was
        # trained for) and ignores num_ctx: a longer prompt fails, so the smaller one is the limit.
        limits = [int(v) for k in ("n_ctx", "n_ctx_train") if isinstance(v := meta.get(k), int)]
        return ModelInfo(
            name=model,
            parameter_count=meta.get("n_params"),
            size=int(meta.get("size") or 0),
            quantization=str(meta.get("ftype") or ""),
            context_length=min(limits, default=None),
        )

    async def memory(self, model: str) -> ModelInfo | None:
        return None  # OpenAI-compatible servers do not say where the model lives

    async def unload(self, model: str) -> None:
        return None  # no portable way to unload; --cold is refused for this backend

    async def generate(self, request: GenRequest) -> RunSample:
        path = "v1/chat/completions" if request.api == "chat" else "v1/completions"
        t0 = perf_counter_ns()
        parts = self.client.stream(path, request_body(request))
        chat = request.api == "chat"
        return await sample_from_chunks(parts, chat=chat, t0_ns=t0, keep_text=request.keep_text)

    async def aclose(self) -> None:
        await self.client.aclose()
