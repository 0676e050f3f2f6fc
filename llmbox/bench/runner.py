"""The benchmark runner: warm-up, then measured runs (sequential or in concurrent batches).

It reports progress as events through a callback and never prints. A failed run keeps its error
in the results and the benchmark goes on; a server that vanishes ends the benchmark with what has
finished already in the report.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter_ns

from llmbox.backends.base import Backend, GenRequest
from llmbox.bench.metrics import summarize
from llmbox.bench.prompts import PROBE_WORDS, PromptBuilder
from llmbox.bench.types import BatchStats, BenchReport, Case, CaseResult, ModelInfo, RunSample
from llmbox.bench.warnings import check
from llmbox.errors import (
    LlmboxError,
    ModelNotFound,
    ServerError,
    ServerUnreachable,
    StreamError,
    UsageError,
)

DEFAULT_RUNS = 5
DEFAULT_WARMUP = 1
DEFAULT_SEED = 42
UNLOAD_WAIT_S = 10.0


@dataclass(frozen=True)
class RunnerConfig:
    runs: int = DEFAULT_RUNS
    warmup: int = DEFAULT_WARMUP
    seed: int | None = DEFAULT_SEED
    temperature: float = 0.0
    ignore_eos: bool = False


# -- events (what a progress display listens to) ------------------------------------------------


@dataclass(frozen=True)
class CaseStarted:
    model: str
    case: Case
    index: int  # 1-based position in the grid
    total: int
    requests: int  # warm-up + measured requests planned


@dataclass(frozen=True)
class RunFinished:
    model: str
    case: Case
    sample: RunSample
    warmup: bool
    done: int  # requests finished in this case so far
    requests: int


@dataclass(frozen=True)
class CaseFinished:
    result: CaseResult


@dataclass(frozen=True)
class Note:
    message: str


Event = CaseStarted | RunFinished | CaseFinished | Note


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_images(paths: Sequence[str]) -> tuple[str, ...]:
    """Base64 of each image file (Ollama wants raw base64, no ``data:`` prefix)."""
    out = []
    for p in paths:
        try:
            out.append(base64.b64encode(Path(p).read_bytes()).decode("ascii"))
        except OSError as err:
            raise UsageError(
                f"cannot read image {p}: {err.strerror}", hint="check --image PATH"
            ) from None
    return tuple(out)


@dataclass
class _ModelState:
    info: ModelInfo
    first_request: bool = True
    prompts: PromptBuilder = field(default_factory=PromptBuilder)


class Runner:
    def __init__(
        self,
        backend: Backend,
        config: RunnerConfig,
        on_event: Callable[[Event], None] = lambda _e: None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.emit = on_event
        self._images: dict[tuple[str, ...], tuple[str, ...]] = {}

    async def run(self, grid: Sequence[tuple[str, Case]], report: BenchReport) -> BenchReport:
        """Fill ``report.results`` case by case (the CLI exports after each CaseFinished)."""
        states: dict[str, _ModelState | LlmboxError] = {}
        for index, (model, case) in enumerate(grid, start=1):
            if model not in states:
                states[model] = await self._open_model(model)
            state = states[model]
            if isinstance(state, LlmboxError):
                result = CaseResult(model=model, case=case, model_info=ModelInfo(name=model))
                result.runs.append(RunSample(error=state.message, status=404, started_at=_now()))
                self._finish(result)
                report.results.append(result)
                continue
            try:
                result = await self._run_case(model, case, state, index, len(grid))
            except ServerUnreachable:
                report.interrupted = True
                raise
            report.results.append(result)
        report.finished_at = _now()
        return report

    async def _open_model(self, model: str) -> _ModelState | LlmboxError:
        try:
            info = await self.backend.model_info(model)
        except ModelNotFound as err:
            return err
        return _ModelState(info=info, prompts=PromptBuilder(seed=self.config.seed or 0))

    def _finish(self, result: CaseResult) -> None:
        result.summary = summarize(result.runs, result.batches)
        result.warnings = check(result)
        self.emit(CaseFinished(result))

    async def _run_case(
        self, model: str, case: Case, state: _ModelState, index: int, total: int
    ) -> CaseResult:
        cfg = self.config
        requests = (cfg.warmup + cfg.runs) * case.concurrency
        self.emit(CaseStarted(model, case, index, total, requests))
        result = CaseResult(model=model, case=case, model_info=state.info)
        images = self._images.get(case.images)
        if images is None:
            images = self._images[case.images] = read_images(case.images)
        done = 0
        if case.prompt_tokens and not state.prompts.calibrated:
            await self._calibrate(model, case, state, result)
        for _ in range(cfg.warmup):
            sample, words = await self._one(model, case, state, images)
            done += 1
            self.emit(RunFinished(model, case, sample, True, done, requests))
            if sample.ok and case.prompt_tokens:
                state.prompts.observe(
                    filler_words=words, prompt_eval_count=sample.prompt_eval_count
                )
            if state.first_request and sample.ok:
                result.initial_load_s = sample.load_duration_ns / 1e9
                state.first_request = False
        if mem := await self._memory(model):
            result.model_info = _merge(state.info, mem)
        for batch in range(cfg.runs):
            if case.concurrency == 1:
                sample, _ = await self._one(model, case, state, images)
                sample.batch = batch
                if state.first_request and sample.ok:
                    result.initial_load_s = sample.load_duration_ns / 1e9
                    state.first_request = False
                result.runs.append(sample)
                done += 1
                self.emit(RunFinished(model, case, sample, False, done, requests))
            else:
                samples, stats = await self._batch(model, case, state, images, batch)
                result.runs.extend(samples)
                result.batches.append(stats)
                for sample in samples:
                    done += 1
                    self.emit(RunFinished(model, case, sample, False, done, requests))
        if result.model_info.size_vram is None and (mem := await self._memory(model)):
            result.model_info = _merge(state.info, mem)
        self._finish(result)
        return result

    async def _calibrate(
        self, model: str, case: Case, state: _ModelState, result: CaseResult
    ) -> None:
        """Two short prefill-only probes (1 token out) fit the prompt's tokens per word."""
        prompts = state.prompts
        target = prompts.words_for(case.prompt_tokens or 0)
        for words in (PROBE_WORDS, max(target, 4 * PROBE_WORDS)):
            request = GenRequest(
                model=model,
                prompt=prompts.synthetic(words),
                max_tokens=1,
                api=case.api,
                think=case.think,
                num_ctx=case.num_ctx,
                seed=self.config.seed,
                temperature=self.config.temperature,
            )
            try:
                sample = await self.backend.generate(request)
            except ServerUnreachable:
                raise
            except LlmboxError as err:
                self.emit(Note(f"prompt calibration failed ({err.message}); using a default"))
                return
            prompts.observe(filler_words=words, prompt_eval_count=sample.prompt_eval_count)
            if state.first_request:
                result.initial_load_s = sample.load_duration_ns / 1e9
                state.first_request = False

    async def _memory(self, model: str) -> ModelInfo | None:
        try:
            return await self.backend.memory(model)
        except ServerUnreachable:
            raise
        except LlmboxError:
            return None

    def _request(
        self, model: str, case: Case, state: _ModelState, images: tuple[str, ...]
    ) -> tuple[GenRequest, int]:
        """The next request of ``case`` (a fresh prompt) and its number of filler words."""
        prompt, words = state.prompts.build(prompt=case.prompt, prompt_tokens=case.prompt_tokens)
        request = GenRequest(
            model=model,
            prompt=prompt,
            max_tokens=case.max_tokens,
            api=case.api,
            think=case.think,
            images=images,
            num_ctx=case.num_ctx,
            seed=self.config.seed,
            temperature=self.config.temperature,
            ignore_eos=self.config.ignore_eos,
        )
        return request, words

    async def _one(
        self, model: str, case: Case, state: _ModelState, images: tuple[str, ...]
    ) -> tuple[RunSample, int]:
        if case.cold:
            await self._unload(model)
        request, words = self._request(model, case, state, images)
        return await self._send(request), words

    async def _send(self, request: GenRequest) -> RunSample:
        """One request; errors other than an unreachable server become the sample's error."""
        started = _now()
        try:
            sample = await self.backend.generate(request)
        except ServerUnreachable:
            raise
        except LlmboxError as err:
            status = getattr(err, "status", None)
            if status is None and isinstance(err, StreamError):
                # The connection broke: if the server is gone, end the benchmark (ServerUnreachable
                # propagates) instead of failing every remaining run the same way.
                await self.backend.server_info()
            sample = RunSample(error=err.message, status=status)
        sample.started_at = started
        return sample

    async def _batch(
        self, model: str, case: Case, state: _ModelState, images: tuple[str, ...], batch: int
    ) -> tuple[list[RunSample], BatchStats]:
        # Prompts are built before the clock starts: the batch's wall time is the server's work.
        requests = [self._request(model, case, state, images)[0] for _ in range(case.concurrency)]
        t0 = perf_counter_ns()
        samples = list(await asyncio.gather(*(self._send(r) for r in requests)))
        wall_s = (perf_counter_ns() - t0) / 1e9
        for s in samples:
            s.batch = batch
        stats = BatchStats(
            batch=batch,
            requests=len(samples),
            failed=sum(1 for s in samples if not s.ok),
            wall_s=wall_s,
            output_tokens=sum(s.eval_count for s in samples if s.ok),
        )
        return samples, stats

    async def _unload(self, model: str) -> None:
        """Unload and wait until the server no longer lists the model (eviction is async)."""
        try:
            await self.backend.unload(model)
        except ServerError:
            return
        deadline = perf_counter_ns() + int(UNLOAD_WAIT_S * 1e9)
        while perf_counter_ns() < deadline and await self._memory(model) is not None:
            await asyncio.sleep(0.05)


def _merge(info: ModelInfo, mem: ModelInfo) -> ModelInfo:
    from dataclasses import replace

    return replace(
        info,
        size=mem.size or info.size,
        size_vram=mem.size_vram,
        context_length=mem.context_length or info.context_length,
        processor=mem.processor,
    )


async def new_report(backend: Backend, options: dict[str, object]) -> BenchReport:
    """An empty report with its provenance; raises ServerUnreachable before anything runs."""
    from llmbox import __version__
    from llmbox.machine import describe

    server = await backend.server_info()
    return BenchReport(
        llmbox_version=__version__,
        backend=backend.kind,
        server=server,
        machine=describe(),
        started_at=_now(),
        options=dict(options),
    )
