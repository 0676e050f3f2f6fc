"""A benchmark session: a validated plan → a report, saved as it grows.

``run_bench`` asks the backend what it can do and what the server has (every model, its
capabilities, its context) before the first request, runs the grid, saves the report through
``checkpoint`` after each case (and when interrupted, or killed by SIGTERM), and evaluates the
gates. It returns an ``Outcome``: the report and, if the run did not fully succeed, the error to
report *after* the data has been printed. The plan comes from ``llmbox.bench.plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmbox import defaults
from llmbox.backends.base import Backend
from llmbox.bench.plan import Plan
from llmbox.bench.runner import CaseFinished, Event, Note, Runner, now_utc
from llmbox.errors import (
    GateFailed,
    Interrupted,
    LlmboxError,
    ModelNotFound,
    RunsFailed,
    ServerUnreachable,
    Terminated,
    UsageError,
)
from llmbox.results import Baseline, BenchReport, ModelInfo, Options, pairs_text

if TYPE_CHECKING:
    from llmbox.power import Meter


@dataclass(frozen=True)
class Saved:
    """Where a run was kept: its ``id`` in the history and the history's name."""

    id: int
    where: str


class History(Protocol):
    """Where runs are remembered (the results store implements it: llmbox.store.bench)."""

    def check(self) -> None:
        """Raise now if saving would fail later (before the first request), as far as that
        can be told quickly."""

    def warming_up(self) -> AbstractContextManager[None]:
        """Held while the server answers the first warm-ups (nothing is measured then): what
        saving needs is made ready beside them, and leaving raises if it failed."""

    def baseline(self, spec: str, plan: Plan) -> tuple[BenchReport, str]:
        """The report ``--baseline SPEC`` names, and where it came from (for the reader)."""

    def save(self, report: BenchReport) -> Saved | None:
        """Keep the report; None when saving is off. Raises LlmboxError."""


class FilesOnly:
    """No history: baselines are saved files, nothing is saved."""

    def check(self) -> None:
        return None

    def warming_up(self) -> AbstractContextManager[None]:
        return nullcontext()

    def baseline(self, spec: str, plan: Plan) -> tuple[BenchReport, str]:
        return BenchReport.load(Path(spec)), spec

    def save(self, report: BenchReport) -> Saved | None:
        return None


@dataclass(frozen=True)
class GateOptions:
    fail_under: Sequence[str] = ()
    fail_over: Sequence[str] = ()
    baseline: str | None = None
    max_regression: str | None = None


@dataclass
class Outcome:
    report: BenchReport
    error: LlmboxError | None = None  # raise it after printing the report
    saved: Saved | None = None  # where the history keeps it (unless --no-save)
    store_error: LlmboxError | None = None  # saving failed; the results are printed regardless


# -- preflight -----------------------------------------------------------------------------------


def check_capabilities(plan: Plan, backend: Backend) -> None:
    """What the options need from the backend, asked of the backend (no name matching)."""
    caps = backend.capabilities
    if plan.config.ignore_eos and not caps.ignore_eos:
        raise UsageError(
            f"--ignore-eos is not supported by the {backend.kind} backend",
            hint="use --backend openai (llama.cpp, vLLM) or embedded",
        )
    if any(case.cold for _, case in plan.grid) and not caps.unload:
        raise UsageError(
            f"--cold needs a server that can unload models; the {backend.kind} backend cannot",
            hint="use --backend ollama",
        )
    if any(case.images for _, case in plan.grid) and not caps.images:
        raise UsageError(f"the {backend.kind} backend cannot send images", hint="drop --image")


async def preflight(plan: Plan, backend: Backend) -> dict[str, ModelInfo]:
    """Every model's facts, before the first request: unknown models, images on a model without
    vision, thinking on a model without it and prompts beyond its context fail here."""
    infos: dict[str, ModelInfo] = {}
    missing: list[ModelNotFound] = []
    for model in dict.fromkeys(m for m, _ in plan.grid):
        try:
            infos[model] = await backend.model_info(model)
        except ModelNotFound as err:
            missing.append(err)
    if missing:
        if len(missing) == 1:
            raise missing[0]
        names = ", ".join(err.model for err in missing)
        raise ModelNotFound(missing[0].model, message=f"models not found: {names}",
                            hint=_missing_hint(missing))  # fmt: skip
    for model, case in plan.grid:
        info = infos[model]
        caps = set(info.capabilities)
        if case.images and caps and "vision" not in caps:
            raise UsageError(
                f"{model} cannot take images (its capabilities: {', '.join(sorted(caps))})",
                hint="use a vision model (e.g. llama3.2-vision:11b, gemma3) or drop --image",
            )
        if case.think and caps and "thinking" not in caps:
            raise UsageError(
                f"{model} does not support thinking (its capabilities: {', '.join(sorted(caps))})",
                hint="drop --think, or use a thinking model (e.g. qwen3, deepseek-r1)",
            )
        limit = case.num_ctx or info.context_length
        if case.prompt_tokens and limit and case.prompt_tokens >= limit:
            raise UsageError(
                f"{model} {case.label}: a {case.prompt_tokens}-token prompt exceeds the "
                f"{limit}-token context",
                hint="lower --prompt-tokens or raise --num-ctx",
            )
    return infos


def _missing_hint(missing: Sequence[ModelNotFound]) -> str | None:
    """One hint for several missing models: the look-alikes installed, then one pull for all
    (a server that cannot pull, e.g. llama.cpp's, keeps the first model's own hint)."""
    pulls = [err.model for err in missing]
    if not all(err.close or err.hint == f"llmbox pull {err.model}" for err in missing):
        return missing[0].hint
    guesses = [f"{' or '.join(err.close)} for {err.model}" for err in missing if err.close]
    lead = f"did you mean {'; '.join(guesses)}? If not: " if guesses else ""
    return f"{lead}llmbox pull {' '.join(pulls)}"


# -- run -----------------------------------------------------------------------------------------


async def new_report(backend: Backend, options: Options) -> BenchReport:
    """An empty report with its provenance; raises ServerUnreachable before anything runs."""
    from llmbox import __version__
    from llmbox.machine import describe

    server = await backend.server_info()
    return BenchReport(
        llmbox_version=__version__,
        backend=backend.kind,  # type: ignore[arg-type]
        server=server,
        machine=describe(),
        started_at=now_utc(),
        options=options,
    )


def run_bench(
    plan: Plan,
    gates: GateOptions = GateOptions(),
    *,
    on_event: Callable[[Event], None] = lambda _e: None,
    checkpoint: Callable[[BenchReport], None] = lambda _r: None,
    backend: Backend | None = None,
    history: History | None = None,
) -> Outcome:
    """Run the plan. ``checkpoint(report)`` is called once the report exists (so an unwritable
    output fails before the first request), after each finished case, on interruption and at the
    end. Errors before the report exists are raised; later ones come back in the Outcome."""
    from llmbox.aio import run_main
    from llmbox.bench import gates as gate_mod

    under = [gate_mod.parse_gate(s, "under") for s in gates.fail_under]
    over = [gate_mod.parse_gate(s, "over") for s in gates.fail_over]
    max_regression = (
        gate_mod.parse_regression(gates.max_regression) if gates.max_regression else None
    )
    if max_regression is not None and gates.baseline is None:
        raise UsageError("--max-regression needs --baseline")
    history = history or FilesOnly()
    history.check()
    baseline, baseline_ref = None, None
    if gates.baseline is not None and not gates.baseline.strip():
        raise UsageError("--baseline is empty", hint=BASELINE_HINT)
    if gates.baseline:
        baseline, source = history.baseline(gates.baseline, plan)
        _check_shared(baseline, source, plan)
        baseline_ref = Baseline(spec=gates.baseline, source=source, started_at=baseline.started_at)
    if baseline is not None and max_regression is None:
        max_regression = defaults.MAX_REGRESSION_PCT / 100
    holder: list[BenchReport] = []

    def on_runner_event(event: Event) -> None:
        if isinstance(event, CaseFinished):
            checkpoint(event.report)  # the case is in the report already
        on_event(event)

    async def go() -> BenchReport:
        engine = backend or plan.build_backend()
        meter: Meter | None = None
        try:
            check_capabilities(plan, engine)
            if plan.options.power != "none":
                from llmbox.power import open_meter

                meter = open_meter(plan.options.power)  # a named meter that can't work: exit 2
                if meter is None:
                    on_event(Note("--power auto: no power meter works here; energy not measured"))
            report = await new_report(engine, plan.options)
            report.baseline = baseline_ref
            infos = await preflight(plan, engine)
            checkpoint(report)
            holder.append(report)
            runner = Runner(
                engine, plan.config, on_runner_event, meter=meter, beside_warmup=history.warming_up
            )
            await runner.run(plan.grid, report, infos)
            if plan.sweep is not None:  # phase two: rates between what phase one measured
                from llmbox.bench.sweep import sweep_rates

                await runner.run(sweep_rates(report, plan.sweep), report, infos)
            return report
        except BaseException:
            if holder:
                holder[0].interrupted = True
                checkpoint(holder[0])
            raise
        finally:
            if meter is not None:
                meter.close()
            await engine.aclose()

    try:
        report = run_main(go())
    except KeyboardInterrupt:
        if not holder:
            raise Interrupted("interrupted before the first request") from None
        return _stored(Outcome(holder[0], Interrupted("interrupted")), history)
    except (Terminated, ServerUnreachable) as err:
        if not holder:
            raise
        return _stored(Outcome(holder[0], err), history)
    results = gate_mod.evaluate(
        report, fail_under=under, fail_over=over, baseline=baseline, max_regression=max_regression
    )
    report.gates = results
    checkpoint(report)
    return _stored(Outcome(report, _verdict(report)), history)


BASELINE_HINT = "give last, best, a run ID, tag:KEY=VALUE or a saved JSON file"


def _check_shared(baseline: BenchReport, source: str, plan: Plan) -> None:
    """A baseline that measured none of this run's (model, case) pairs would fail every gate
    ("significantly worse"): refuse it before the first request."""
    ours = [(m, c.label) for m, c in plan.grid]
    theirs = [(r.model, r.case.label) for r in baseline.results]
    if set(ours) & set(theirs):
        return
    measured, mine = pairs_text(theirs), pairs_text(ours)
    raise UsageError(
        f"--baseline: {source} shares no model and case with this run (it measured {measured}; "
        f"this one {mine})",
        hint="give the same models and --prompt-tokens/--max-tokens, or another baseline",
    )


def _stored(outcome: Outcome, history: History) -> Outcome:
    """Save what finished (an interrupted run too: its cases are real measurements). A history
    that fails keeps its error apart: the results are printed and written regardless."""
    if outcome.report.results:
        try:
            outcome.saved = history.save(outcome.report)
        except LlmboxError as err:
            outcome.store_error = err
    return outcome


def _verdict(report: BenchReport) -> LlmboxError | None:
    failed_gates = [g for g in report.gates if not g.passed]
    if failed_gates:
        from llmbox.bench.gates import render_gate_failures

        return GateFailed(
            f"{len(failed_gates)} gate(s) failed:\n" + render_gate_failures(failed_gates).rstrip(),
            hint="see the gates block of the JSON output",
        )
    failed = sum(r.failed for r in report.results)
    if failed:
        total = sum(len(r.runs) for r in report.results)
        return RunsFailed(
            f"{failed} of {total} runs failed", hint="see the warnings above and each run's error"
        )
    return None
