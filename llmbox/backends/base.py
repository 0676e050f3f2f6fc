"""The Backend protocol and what every backend shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llmbox.results import Api, ModelInfo, RunSample, Server, Think


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do and measure; the benchmark asks these instead of matching names."""

    unload: bool  # unload a model on request (--cold)
    ignore_eos: bool  # generate exactly max_tokens (--ignore-eos)
    images: bool  # send images with a prompt (--image)
    memory: bool  # say where a loaded model lives (size_vram, CPU/GPU split)
    server_timings: bool  # the server times prefill and decode itself


@dataclass(frozen=True)
class GenRequest:
    """One generation request, backend-neutral."""

    model: str
    prompt: str
    max_tokens: int
    api: Api = "chat"
    think: Think = None
    images: tuple[str, ...] = ()  # base64, no data: prefix
    num_ctx: int | None = None
    seed: int | None = None
    temperature: float = 0.0
    ignore_eos: bool = False  # llama.cpp/vLLM only; Ollama has no such option
    history: tuple[tuple[str, str], ...] = ()  # chat: earlier (role, content) before the prompt
    keep_text: bool = False  # return the answer text in RunSample.answer (scored tasks)


class Backend(Protocol):
    """What the benchmark runner needs from a server or engine."""

    kind: str  # "ollama" | "openai" | "embedded"
    host: str
    capabilities: Capabilities

    async def server_info(self) -> Server:
        """Provenance: kind, host, version (may be None) and the backend's own facts."""
        ...

    async def model_info(self, model: str) -> ModelInfo:
        """Static facts about ``model``; raises ModelNotFound when the server lacks it."""
        ...

    async def memory(self, model: str) -> ModelInfo | None:
        """The loaded model's memory footprint (size, size_vram, context), if the server says."""
        ...

    async def unload(self, model: str) -> None: ...

    async def generate(self, request: GenRequest) -> RunSample:
        """Run one request, timing it from stream arrival; raises LlmboxError on failure."""
        ...

    async def aclose(self) -> None: ...


class TokenClock:
    """Collects stream arrival times of token-bearing parts into TTFT and inter-token latency."""

    __slots__ = ("first_answer", "first_any", "gap_count", "gap_max", "gap_sum", "last", "t0")

    def __init__(self, t0_ns: int) -> None:
        self.t0 = t0_ns
        self.first_any: int | None = None
        self.first_answer: int | None = None
        self.last: int | None = None
        self.gap_sum = 0
        self.gap_max = 0
        self.gap_count = 0

    def token(self, t_ns: int, *, answer: bool) -> None:
        if self.first_any is None:
            self.first_any = t_ns
        elif self.last is not None:
            gap = t_ns - self.last
            self.gap_sum += gap
            self.gap_count += 1
            self.gap_max = max(gap, self.gap_max)
        self.last = t_ns
        if answer and self.first_answer is None:
            self.first_answer = t_ns

    def fill(self, sample: RunSample, t_end_ns: int) -> None:
        t0 = self.t0
        sample.e2e_s = (t_end_ns - t0) / 1e9
        if self.first_any is not None:
            sample.ttft_s = (self.first_any - t0) / 1e9
        if self.first_answer is not None:
            sample.ttft_answer_s = (self.first_answer - t0) / 1e9
        if self.gap_count:
            sample.itl_mean_s = self.gap_sum / self.gap_count / 1e9
            sample.itl_max_s = self.gap_max / 1e9
