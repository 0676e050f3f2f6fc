"""The benchmark runner: warm-up, then measured runs (sequential or in concurrent batches).

It reports progress as events through a callback and never prints. A failed run keeps its error
in the results and the benchmark goes on; a server that vanishes ends the benchmark with what has
finished already in the report. Each finished case is added to the report *before* its
``CaseFinished`` event, so a listener that saves the report on that event never lags a case.

Two orders: ``sequential`` runs each (model, case) to the end before the next (each model loads
once); ``interleave`` warms every (model, case) up, then measures in rounds — one repetition of
each per round — so slow drift (heat, background load) spreads over all of them instead of
landing on whichever ran last.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Literal

from llmbox import defaults
from llmbox.backends.base import Backend, GenRequest
from llmbox.bench import collector
from llmbox.bench.datasets import Item, load_dataset, needle_tokens
from llmbox.bench.metrics import summarize
from llmbox.bench.mixes import Lengths, case_rng, from_spec
from llmbox.bench.prompts import PROBE_WORDS, PromptBuilder
from llmbox.bench.scoring import score
from llmbox.bench.warnings import check, interrupted_warning
from llmbox.errors import LlmboxError, ServerError, ServerUnreachable, StreamError, UsageError
from llmbox.results import (
    BatchStats,
    BenchReport,
    Case,
    CaseResult,
    ModelInfo,
    Power,
    RunSample,
)

if TYPE_CHECKING:
    from llmbox.power import Meter

UNLOAD_WAIT_S = 10.0


@dataclass(frozen=True)
class RunnerConfig:
    runs: int = defaults.RUNS
    warmup: int = defaults.WARMUP
    seed: int | None = defaults.SEED
    temperature: float = 0.0
    ignore_eos: bool = False
    nonce: str = ""
    order: Literal["sequential", "interleave"] = "sequential"
    cooldown_s: float = 0.0
    slo: tuple[tuple[str, float], ...] = ()  # metric -> limit in seconds
    runs_given: bool = True  # False: a dataset case measures each of its items once


# -- events (what a progress display listens to) ------------------------------------------------


@dataclass(frozen=True)
class CaseStarted:
    model: str
    case: Case
    index: int  # 1-based position in the grid
    total: int
    requests: int  # requests this case will send (calibration probes, warm-up, measured)


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
    """A case is complete and already part of ``report``."""

    result: CaseResult
    report: BenchReport


@dataclass(frozen=True)
class Note:
    message: str


Event = CaseStarted | RunFinished | CaseFinished | Note


def now_utc() -> str:
    """UTC now as ISO 8601 to the microsecond, e.g. ``2026-11-30T16:25:49.123456Z``.

    Microseconds, not seconds: two runs started in one second are two points of a trend, not one.
    Not milliseconds: it is the form the results store keeps (``normalise_time``), so a report and
    its stored row show the same stamp; its fixed width still sorts as text."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


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
    prompts: PromptBuilder
    first_request: bool = True


@dataclass
class _CaseRun:
    """A case in progress: its result so far and its request counter."""

    model: str
    case: Case
    index: int
    result: CaseResult
    images: tuple[str, ...]
    requests: int
    done: int = 0
    extra: list[int] = field(default_factory=list)  # per-request prompt overhead (image tokens)
    measured: int = 0  # measured requests planned
    t0_ns: int = 0  # a load phase's start (open loop: its schedule's zero)
    completions: list[tuple[int, RunSample]] = field(default_factory=list)  # a load phase's
    reps: int = 1  # measured rounds (one request each, or one per worker, or one conversation)
    items: list[Item] | None = None  # a dataset case's prompts, taken in turn
    cursor: int = 0
    warming: bool = False  # warm-ups take a dataset's last item, marked, and use up none
    prompt_lengths: tuple[Lengths, random.Random] | None = None  # --prompt-tokens LO:HI …
    output_lengths: tuple[Lengths, random.Random] | None = None  # --max-tokens LO:HI …


@dataclass(frozen=True)
class _Planned:
    """A request ready to send, with what the runner needs to know about it afterwards."""

    request: GenRequest
    words: int  # filler words of a synthetic prompt (0 otherwise)
    item: Item | None = None


class Runner:
    def __init__(
        self,
        backend: Backend,
        config: RunnerConfig,
        on_event: Callable[[Event], None] = lambda _e: None,
        meter: Meter | None = None,
        beside_warmup: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.emit = on_event
        self.meter = meter  # energy per case's measured runs (bench --power)
        # Held around the first case's calibration and warm-ups, which the server takes long to
        # answer while nothing is measured: saving opens the store then (bench.session.History).
        self.beside_warmup = beside_warmup
        self._images: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._datasets: dict[str, list[Item]] = {}
        self._states: dict[str, _ModelState] = {}

    async def run(
        self,
        grid: Sequence[tuple[str, Case]],
        report: BenchReport,
        infos: dict[str, ModelInfo],
    ) -> BenchReport:
        """Fill ``report.results`` (``infos``: each model's facts, checked before the start)."""
        for model, info in infos.items():  # kept across calls: a sweep runs in phases
            if model not in self._states:
                prompts = PromptBuilder(seed=self.config.seed or 0, nonce=self.config.nonce)
                self._states[model] = _ModelState(info=info, prompts=prompts)
        states = self._states
        grid = [(m, c) for m, c in grid if not self._beyond_context(m, c, infos[m])]
        with collector.paused():
            await self._run(grid, report, states)
        report.finished_at = now_utc()
        return report

    async def _run(
        self, grid: Sequence[tuple[str, Case]], report: BenchReport, states: dict[str, _ModelState]
    ) -> None:
        try:
            if self.config.order == "interleave":
                await self._interleaved(grid, report, states)
            else:
                for index, (model, case) in enumerate(grid, start=1):
                    run = self._start(model, case, states[model], index, len(grid))
                    await self._prepare(run, states[model])
                    try:
                        await self._measure_all(run, states[model])
                    except (asyncio.CancelledError, KeyboardInterrupt):
                        self._finish_partial([run], report)
                        raise
                    await self._finish(run, states[model], report)
        except ServerUnreachable:
            report.interrupted = True
            raise

    def _beyond_context(self, model: str, case: Case, info: ModelInfo) -> bool:
        """A needle case longer than the model's context is skipped, with a note."""
        limit = info.context_length
        tokens = needle_tokens(case.dataset) if case.dataset else None
        if not limit or tokens is None:
            return False
        needed = max(case.num_ctx or 0, tokens)
        if needed <= limit:
            return False
        self.emit(
            Note(
                f"{model}: skipped {case.label}: it needs {needed:,} tokens of context, "
                f"the model has {limit:,}"
            )
        )
        return True

    async def _interleaved(
        self,
        grid: Sequence[tuple[str, Case]],
        report: BenchReport,
        states: dict[str, _ModelState],
    ) -> None:
        runs = []
        for index, (model, case) in enumerate(grid, start=1):
            run = self._start(model, case, states[model], index, len(grid))
            await self._prepare(run, states[model])
            runs.append(run)
        try:
            await self._rounds(runs, states)
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._finish_partial(runs, report)
            raise
        for run in runs:
            await self._finish(run, states[run.model], report)

    async def _rounds(self, runs: Sequence[_CaseRun], states: dict[str, _ModelState]) -> None:
        for rep in range(max(r.reps for r in runs)):
            for run in runs:
                if rep >= run.reps:
                    continue
                if _whole(run.case):
                    if rep == 0:  # a load phase is one piece: it runs whole in the first round
                        await self._measure_all(run, states[run.model])
                else:
                    await self._measure(run, states[run.model], rep)
                if self.config.cooldown_s > 0:
                    await asyncio.sleep(self.config.cooldown_s)

    def _start(
        self, model: str, case: Case, state: _ModelState, index: int, total: int
    ) -> _CaseRun:
        cfg = self.config
        items = self._dataset(case.dataset) if case.dataset else None
        reps = cfg.runs
        if items is not None and not cfg.runs_given:  # each item once
            reps = math.ceil(len(items) / case.concurrency)
        open_loop = (case.requests or 0) if case.rate is not None else None
        measured = reps * case.concurrency * case.turns if open_loop is None else open_loop
        requests = cfg.warmup + measured  # warm-ups go one at a time
        if case.prompt_tokens and not state.prompts.calibrated:
            requests += 2  # the calibration probes
        self.emit(CaseStarted(model, case, index, total, requests))
        images = self._images.get(case.image_paths)
        if images is None:
            images = self._images[case.image_paths] = read_images(case.image_paths)
        result = CaseResult(model=model, case=case, model_info=state.info)
        run = _CaseRun(model, case, index, result, images, requests, reps=reps, items=items)
        run.measured = measured
        if case.prompt_dist:
            run.prompt_lengths = (from_spec(case.prompt_dist), case_rng(cfg.seed, index, "prompt"))
        if case.output_dist:
            run.output_lengths = (from_spec(case.output_dist), case_rng(cfg.seed, index, "output"))
        return run

    def _dataset(self, spec: str) -> list[Item]:
        items = self._datasets.get(spec)
        if items is None:
            items = self._datasets[spec] = load_dataset(spec)
        return items

    async def _prepare(self, run: _CaseRun, state: _ModelState) -> None:
        """Calibration probes (text only) and warm-up runs."""
        beside, self.beside_warmup = self.beside_warmup, None  # the first case's only
        with beside() if beside is not None else contextlib.nullcontext():
            case = run.case
            if case.prompt_tokens and not state.prompts.calibrated:
                await self._calibrate(run, state)
            run.warming = True
            for _ in range(self.config.warmup):
                sample, words = await self._one(run, state)
                self._count(run, sample, warmup=True)
                self._observe(run, state, sample, words)
            run.warming = False
            if mem := await self._memory(run.model):
                run.result.model_info = _merge(state.info, mem)

    async def _measure_all(self, run: _CaseRun, state: _ModelState) -> None:
        if self.meter is None:
            await self._measure_load(run, state)
            return
        from llmbox.power import PowerSampler

        async with PowerSampler(self.meter) as sampler:
            await self._measure_load(run, state)
        if sampler.reading is not None:
            run.result.power = Power.model_validate(sampler.reading.to_dict())

    async def _measure_load(self, run: _CaseRun, state: _ModelState) -> None:
        case = run.case
        if case.turns > 1:
            await self._conversations(run, state)
        elif case.rate is not None:
            await self._open_loop(run, state)
        elif case.concurrency > 1 and case.mode == "continuous":
            await self._continuous(run, state)
        else:
            for rep in range(run.reps):
                await self._measure(run, state, rep)

    async def _continuous(self, run: _CaseRun, state: _ModelState) -> None:
        """C workers keep C requests in flight: each sends its next one when its last is done."""
        total = run.reps * run.case.concurrency
        if run.items is not None and not self.config.runs_given:
            total = len(run.items)
        pending = iter(range(total))
        done = run.completions
        t0 = run.t0_ns = perf_counter_ns()

        async def worker() -> None:
            for i in pending:  # one shared iterator: the workers take turns
                sample = await self._send(self._request(run, state))
                sample.batch = i
                done.append((perf_counter_ns(), sample))
                run.result.runs.append(sample)
                self._count(run, sample, warmup=False)

        await asyncio.gather(*(worker() for _ in range(run.case.concurrency)))
        run.result.batches.extend(windows(done, t0, run.reps))

    async def _conversations(self, run: _CaseRun, state: _ModelState) -> None:
        """Multi-turn chats, ``concurrency`` of them at a time. With ``shared_prefix`` each turn
        resends the conversation so far (a server's prompt cache can reuse it); without, each
        turn's history starts with a new marker, so the same amount of text is all new."""
        pending = iter(range(run.reps))
        done = run.completions
        t0 = run.t0_ns = perf_counter_ns()

        async def worker() -> None:
            for conversation in pending:
                history: list[tuple[str, str]] = []
                previous = 0  # tokens of the previous turn's prompt and answer
                for turn in range(1, run.case.turns + 1):
                    planned = self._request(run, state)
                    sent = history
                    if history and not run.case.shared_prefix:
                        role, first = history[0]
                        sent = [(role, f"{state.prompts.fresh_marker()} {first}"), *history[1:]]
                    request = replace(planned.request, history=tuple(sent), keep_text=True)
                    sample = await self._send(replace(planned, request=request))
                    answer, sample.answer = sample.answer or "", None
                    sample.batch, sample.turn = conversation, turn
                    if run.case.shared_prefix and turn > 1:
                        sample.shared_prefix_tokens = previous
                    previous = sample.prompt_eval_count + sample.eval_count
                    history += [("user", planned.request.prompt), ("assistant", answer)]
                    done.append((perf_counter_ns(), sample))
                    run.result.runs.append(sample)
                    self._count(run, sample, warmup=False)

        await asyncio.gather(*(worker() for _ in range(run.case.concurrency)))
        run.result.batches.extend(windows(done, t0, run.reps))

    async def _open_loop(self, run: _CaseRun, state: _ModelState) -> None:
        """Requests sent on their own schedule; latencies count from the scheduled arrival."""
        from llmbox.bench.load import parse_arrivals, schedule, wait_until

        case = run.case
        assert case.rate is not None
        n = case.requests or 1
        rng = random.Random(f"{self.config.seed}/{self.config.nonce}/{run.index}")
        due = schedule(parse_arrivals(case.arrivals), case.rate, n, rng)
        requests = [self._request(run, state) for _ in range(n)]  # before the clock starts
        cap = asyncio.Semaphore(case.max_concurrency) if case.max_concurrency else None
        done = run.completions
        loop = asyncio.get_running_loop()
        t0 = run.t0_ns = perf_counter_ns() + 5_000_000  # a moment to get going

        async def send(i: int, due_ns: int) -> None:
            if cap is not None:
                await cap.acquire()
            try:
                delay = (perf_counter_ns() - due_ns) / 1e9
                sample = await self._send(requests[i])
            finally:
                if cap is not None:
                    cap.release()
            sample.batch = i
            sample.sched_delay_s = round(delay, 6)
            for key in ("ttft_s", "ttft_answer_s", "e2e_s"):
                value = getattr(sample, key)
                if value is not None:
                    setattr(sample, key, value + delay)
            done.append((perf_counter_ns(), sample))
            run.result.runs.append(sample)
            self._count(run, sample, warmup=False)

        tasks: list[asyncio.Task[None]] = []
        try:
            for i, t in enumerate(due):
                due_ns = t0 + round(t * 1e9)
                await wait_until(due_ns)
                tasks.append(loop.create_task(send(i, due_ns)))
            await asyncio.gather(*tasks)
        except BaseException:
            # Stopped while still sending: the requests already sent end here, before the case's
            # partial summary counts them (left running, one could finish after it).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        run.result.runs.sort(key=lambda r: r.batch)
        run.result.batches.extend(windows(done, t0, run.reps))

    async def _measure(self, run: _CaseRun, state: _ModelState, rep: int) -> None:
        if run.case.concurrency == 1:
            sample, words = await self._one(run, state)
            sample.batch = rep
            self._observe(run, state, sample, words)
            run.result.runs.append(sample)
            self._count(run, sample, warmup=False)
            return
        samples, stats = await self._batch(run, state, rep)
        run.result.runs.extend(samples)
        run.result.batches.append(stats)
        for sample in samples:
            self._count(run, sample, warmup=False)

    def _finish_partial(self, runs: Sequence[_CaseRun], report: BenchReport) -> None:
        """Interrupted (Ctrl-C, SIGTERM) while measuring: keep each case's finished requests,
        marked partial, so a long load phase is not lost whole (requests in flight are)."""
        for run in runs:
            if run.result.runs and run.result not in report.results:
                run.result.runs.sort(key=lambda r: r.batch)
                if run.completions and not run.result.batches:  # a load phase: its throughput
                    run.result.batches = windows(run.completions, run.t0_ns, run.reps)
                self._summarize(run, report, partial=True)

    async def _finish(self, run: _CaseRun, state: _ModelState, report: BenchReport) -> None:
        result = run.result
        if result.model_info.size_vram is None and (mem := await self._memory(run.model)):
            result.model_info = _merge(state.info, mem)
        self._summarize(run, report)

    def _summarize(self, run: _CaseRun, report: BenchReport, *, partial: bool = False) -> None:
        result = run.result
        if run.case.concurrency > 1 or run.case.rate is not None or run.case.turns > 1:
            fill_queue_waits(result.runs)
        if run.extra:
            extra = sorted(run.extra)
            result.image_tokens = extra[len(extra) // 2]
        result.summary = summarize(result.runs, result.batches, dict(self.config.slo))
        result.failed_runs = result.failed
        result.warnings = check(result)
        if partial:
            result.warnings.insert(0, interrupted_warning(len(result.runs), run.measured))
        report.results.append(result)
        self.emit(CaseFinished(result, report))

    def _count(self, run: _CaseRun, sample: RunSample, *, warmup: bool) -> None:
        run.done += 1
        self.emit(RunFinished(run.model, run.case, sample, warmup, run.done, run.requests))
        collector.between_requests()  # after this request; while others run, under load

    def _observe(self, run: _CaseRun, state: _ModelState, sample: RunSample, words: int) -> None:
        """Learn from a successful request: first load time, and the prompt's size."""
        if not sample.ok:
            return
        if state.first_request:
            run.result.initial_load_s = sample.load_duration_ns / 1e9
            state.first_request = False
        if not run.case.prompt_tokens or words <= 0:
            return
        if run.case.image_paths:
            # An image's tokens are not text: keep them out of the text calibration and count
            # them apart (what the prompt held beyond the text the calibration predicts).
            predicted = state.prompts.predicted_tokens(words)
            run.extra.append(max(0, round(sample.prompt_eval_count - predicted)))
            return
        state.prompts.observe(filler_words=words, prompt_eval_count=sample.prompt_eval_count)

    async def _calibrate(self, run: _CaseRun, state: _ModelState) -> None:
        """Two short prefill-only probes (1 token out, text only) fit the tokens per word."""
        prompts, case = state.prompts, run.case
        target = prompts.words_for(case.prompt_tokens or 0)
        probes = (PROBE_WORDS, max(target, 4 * PROBE_WORDS))
        for sent, words in enumerate(probes):
            request = GenRequest(
                model=run.model,
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
                run.requests -= len(probes) - sent  # the probes that will not be sent
                self.emit(Note(f"prompt calibration failed ({err.message}); using a default"))
                return
            self._count(run, sample, warmup=True)
            prompts.observe(filler_words=words, prompt_eval_count=sample.prompt_eval_count)
            if state.first_request:
                run.result.initial_load_s = sample.load_duration_ns / 1e9
                state.first_request = False

    async def _memory(self, model: str) -> ModelInfo | None:
        try:
            return await self.backend.memory(model)
        except ServerUnreachable:
            raise
        except LlmboxError:
            return None

    def _request(self, run: _CaseRun, state: _ModelState) -> _Planned:
        """The next request of the case: a fresh prompt (a dataset's next item, or a synthetic
        prompt of the case's size or of a size drawn from its distribution)."""
        case = run.case
        max_tokens = case.max_tokens
        if run.output_lengths is not None:
            max_tokens = run.output_lengths[0].draw(run.output_lengths[1])
        item = None
        images, history = run.images, tuple[tuple[str, str], ...]()
        if run.items is not None:
            if run.warming:  # marked, so the measured requests meet no cached prefix from it
                item = replace(run.items[-1], expect=None)
            else:
                item = run.items[run.cursor % len(run.items)]
                run.cursor += 1
            words = 0
            # A scored item goes verbatim (the same question every time, so pass rates are
            # reproducible); others get the marker that keeps the prompt cache out of prefill.
            prompt = item.prompt
            if item.expect is None:
                prompt = state.prompts.build(prompt=item.prompt, prompt_tokens=None)[0]
            images = item.images or images
            history = item.history
            max_tokens = item.max_tokens or max_tokens
        elif run.prompt_lengths is not None:
            size = run.prompt_lengths[0].draw(run.prompt_lengths[1])
            prompt, words = state.prompts.build(prompt=None, prompt_tokens=size)
        else:
            target = case.prompt_tokens
            prompt, words = state.prompts.build(prompt=case.prompt, prompt_tokens=target)
        request = GenRequest(
            model=run.model,
            prompt=prompt,
            max_tokens=max_tokens,
            api=case.api,
            think=case.think,
            images=images,
            num_ctx=case.num_ctx,
            seed=self.config.seed,
            temperature=self.config.temperature,
            ignore_eos=self.config.ignore_eos,
            history=history,
            keep_text=item is not None and item.expect is not None,
        )
        return _Planned(request, words, item)

    async def _one(self, run: _CaseRun, state: _ModelState) -> tuple[RunSample, int]:
        if run.case.cold:
            await self._unload(run.model)
        planned = self._request(run, state)
        return await self._send(planned), planned.words

    async def _send(self, planned: _Planned) -> RunSample:
        """One request, its answer scored if its item has a check; errors other than an
        unreachable server become the sample's error."""
        sample = await self._generate(planned.request)
        item = planned.item
        if item is not None:
            sample.task, sample.task_type = item.id, item.type or None
            if item.expect is not None:
                if sample.ok:
                    sample.passed, sample.verdict = score(item.expect, sample.answer or "")
                else:
                    sample.passed, sample.verdict = False, "the request failed"
        return sample

    async def _generate(self, request: GenRequest) -> RunSample:
        started = now_utc()
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
        self, run: _CaseRun, state: _ModelState, batch: int
    ) -> tuple[list[RunSample], BatchStats]:
        # Prompts are built before the clock starts: the batch's wall time is the server's work.
        requests = [self._request(run, state) for _ in range(run.case.concurrency)]
        t0 = perf_counter_ns()
        samples = list(await asyncio.gather(*(self._send(r) for r in requests)))
        wall_s = (perf_counter_ns() - t0) / 1e9
        for s in samples:
            s.batch = batch
        stats = BatchStats.of(
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


def queue_wait(sample: RunSample, warm_load_ns: int | None = None) -> float | None:
    """Seconds the request waited for a free slot. Ollama counts that wait into
    ``load_duration`` (its handler starts the clock before the scheduler hands out a runner);
    other servers leave it out of their timings, so the client's TTFT shows it. Both are counted:
    ``load_duration`` beyond the model's warm load, plus TTFT beyond the server's own load,
    prefill and first decode step. None without server timings.

    >>> queue_wait(RunSample(ttft_s=1.5, load_duration_ns=100_000_000,
    ...     prompt_eval_duration_ns=400_000_000, eval_count=10, eval_duration_ns=200_000_000))
    0.98
    >>> queue_wait(RunSample(ttft_s=1.5, load_duration_ns=1_100_000_000,
    ...     prompt_eval_duration_ns=380_000_000, eval_count=10, eval_duration_ns=200_000_000),
    ...     warm_load_ns=100_000_000)
    1.0
    """
    if not sample.ok or sample.ttft_s is None or sample.counts_source != "server":
        return None
    if sample.prompt_eval_duration_ns <= 0:
        return None
    step_ns = sample.eval_duration_ns / sample.eval_count if sample.eval_count > 0 else 0
    server_s = (sample.load_duration_ns + sample.prompt_eval_duration_ns + step_ns) / 1e9
    hidden = max(0.0, sample.ttft_s - server_s)
    in_load = 0.0 if warm_load_ns is None else max(0, sample.load_duration_ns - warm_load_ns) / 1e9
    return round(hidden + in_load, 6)


def _whole(case: Case) -> bool:
    """Cases measured in one piece (a load phase), not run by run."""
    return case.rate is not None or (case.concurrency > 1 and case.mode == "continuous")


def windows(done: Sequence[tuple[int, RunSample]], t0_ns: int, n: int) -> list[BatchStats]:
    """Throughput of a load phase in ``n`` equal windows of its wall time (by completion time),
    so the statistics have a spread. A window without a completion counts, as zero: leaving it
    out would overstate the rate (4 requests at 2/s read as 2.2 req/s, not 1.7) and goodput."""
    if not done:
        return []
    end = max(t for t, _ in done)
    span = max(end - t0_ns, 1)
    out = []
    for w in range(max(1, n)):
        lo, hi = t0_ns + span * w // n, t0_ns + span * (w + 1) // n
        inside = [s for t, s in done if lo < t <= hi or (w == 0 and t == lo)]
        out.append(
            BatchStats.of(
                batch=w,
                requests=len(inside),
                failed=sum(1 for s in inside if not s.ok),
                wall_s=(hi - lo) / 1e9,
                output_tokens=sum(s.eval_count for s in inside if s.ok),
            )
        )
    return out


def fill_queue_waits(runs: Sequence[RunSample]) -> None:
    """Set ``queue_s`` on concurrent runs; the case's shortest load is the model's warm load."""
    loads = [r.load_duration_ns for r in runs if r.ok]
    warm = min(loads, default=0)
    for r in runs:
        r.queue_s = queue_wait(r, warm)


def _merge(info: ModelInfo, mem: ModelInfo) -> ModelInfo:
    return info.model_copy(
        update={
            "size": mem.size or info.size,
            "size_vram": mem.size_vram,
            "context_length": mem.context_length or info.context_length,
            "processor": mem.processor,
        }
    )
