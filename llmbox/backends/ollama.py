"""The Ollama backend: native ``/api/chat`` and ``/api/generate`` with server-side timings."""

from __future__ import annotations

from time import perf_counter_ns
from typing import Any

from llmbox.backends.base import Capabilities, GenRequest, TokenClock
from llmbox.client import OllamaClient, processor_label
from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable
from llmbox.names import close_names, same_model
from llmbox.results import ModelInfo, RunSample, Server


class OllamaBackend:
    kind = "ollama"
    capabilities = Capabilities(
        unload=True, ignore_eos=False, images=True, memory=True, server_timings=True
    )

    def __init__(self, client: OllamaClient) -> None:
        self.client = client
        self.host = client.host

    async def server_info(self) -> Server:
        return Server(kind=self.kind, host=self.host, version=await self.client.version())

    async def model_info(self, model: str) -> ModelInfo:
        try:
            show = await self.client.show(model)
        except ModelNotFound as err:
            raise await self._not_found(err) from None
        tag = next((m for m in await self.client.tags() if same_model(m.name, model)), None)
        context = show.info("context_length")
        return ModelInfo(
            name=model,
            digest=tag.digest if tag else "",
            parameter_size=show.details.parameter_size,
            parameter_count=show.parameter_count,
            quantization=show.details.quantization_level,
            family=show.details.family,
            size=tag.size if tag else 0,
            context_length=int(context) if isinstance(context, (int, float)) else None,
            capabilities=list(show.capabilities or []),
        )

    async def _not_found(self, err: ModelNotFound) -> ModelNotFound:
        """The server's "not found", with a hint that names the installed models it looks like
        (asked of ``/api/tags`` only now, so a found model costs no extra request)."""
        model = err.model
        try:
            installed = [m.name for m in await self.client.tags()]
        except (ServerUnreachable, ServerError):
            return err  # the hint to pull stands
        close = close_names(model, installed)
        if not close:
            return err
        return ModelNotFound(
            model,
            message=err.message,
            hint=f"did you mean {' or '.join(close)}? If not: llmbox pull {model}",
            close=tuple(close),
        )

    async def memory(self, model: str) -> ModelInfo | None:
        for m in await self.client.ps():
            if same_model(m.name, model):
                return ModelInfo(
                    name=m.name,
                    size=m.size,
                    size_vram=m.size_vram,
                    context_length=m.context_length,
                    processor=processor_label(m.size, m.size_vram),
                )
        return None

    async def unload(self, model: str) -> None:
        await self.client.unload(model)

    def _body(self, req: GenRequest) -> dict[str, Any]:
        options: dict[str, Any] = {"num_predict": req.max_tokens, "temperature": req.temperature}
        if req.seed is not None:
            options["seed"] = req.seed
        if req.num_ctx is not None:
            options["num_ctx"] = req.num_ctx
        body: dict[str, Any] = {"model": req.model, "options": options}
        if req.think is not None:
            body["think"] = req.think
        if req.api == "chat":
            message: dict[str, Any] = {"role": "user", "content": req.prompt}
            if req.images:
                message["images"] = list(req.images)
            earlier = [{"role": role, "content": text} for role, text in req.history]
            body["messages"] = [*earlier, message]
        else:
            body["prompt"] = req.prompt
            if req.images:
                body["images"] = list(req.images)
        return body

    async def generate(self, request: GenRequest) -> RunSample:
        chat = request.api == "chat"
        thinking = 0
        clock = TokenClock(perf_counter_ns())
        token = clock.token

        def on_token(t_ns: int, answer: bool) -> None:  # once per token: keep it lean
            nonlocal thinking
            if not answer:
                thinking += 1  # Ollama streams one token per part
            token(t_ns, answer=answer)

        path = "api/chat" if chat else "api/generate"
        answer: list[str] | None = None
        if request.keep_text:  # scored tasks: decode every part (slower), keep the answer
            answer = []
            final = await self._with_text(path, request, on_token, answer)
        else:
            final = await self.client.generation(path, self._body(request), on_token, chat=chat)
        t_end = perf_counter_ns()
        sample = RunSample(
            prompt_eval_count=int(final.get("prompt_eval_count", 0)),
            prompt_eval_duration_ns=int(final.get("prompt_eval_duration", 0)),
            cached_prompt_tokens=(
                int(final["prompt_eval_cached_count"])
                if "prompt_eval_cached_count" in final
                else None
            ),
            eval_count=int(final.get("eval_count", 0)),
            eval_duration_ns=int(final.get("eval_duration", 0)),
            thinking_tokens=thinking,
            load_duration_ns=int(final.get("load_duration", 0)),
            total_duration_ns=int(final.get("total_duration", 0)),
            done_reason=final.get("done_reason"),
        )
        if answer is not None:
            sample.answer = "".join(answer)
        clock.fill(sample, t_end)
        return sample

    async def _with_text(
        self, path: str, request: GenRequest, on_token: Any, answer: list[str]
    ) -> dict[str, Any]:
        """Stream a generation decoding every part, the answer text appended to ``answer``."""
        chat = request.api == "chat"
        final: dict[str, Any] = {}
        async for part in self.client.stream(path, {**self._body(request), "stream": True}):
            data = part.data
            fields = (data.get("message") or {}) if chat else data
            if fields.get("thinking"):
                on_token(part.t_ns, False)
            text = fields.get("content" if chat else "response")
            if text:
                on_token(part.t_ns, True)
                answer.append(str(text))
            if data.get("done") is True:
                final = data
        return final

    async def aclose(self) -> None:
        await self.client.aclose()


__all__ = ["OllamaBackend"]
