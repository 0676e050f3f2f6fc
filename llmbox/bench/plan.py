"""The benchmark's plan: the options as given (``None``: not given) resolved into a validated
grid and runner settings — flag > suite > default, in this one place — before any request."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from llmbox import defaults
from llmbox.backends.base import Backend
from llmbox.bench.grid import (
    MAX_CASE_REQUESTS,
    GridOptions,
    cases_from_options,
    check_limit,
    expand,
    label_for,
    load_suite,
    parse_int_list,
)
from llmbox.bench.load import parse_arrivals, parse_rates, parse_slo
from llmbox.bench.mixes import Lengths, as_lengths, from_spec, parse_lengths_list
from llmbox.bench.runner import RunnerConfig
from llmbox.bench.sweep import SweepPlan, sweep_phase_one
from llmbox.errors import UsageError
from llmbox.results import Case, Options

Order = Literal["sequential", "interleave"]


@dataclass(frozen=True)
class BenchOptions:
    """``llmbox bench``'s options as given; ``None`` means "not given" (see llmbox.defaults)."""

    models: Sequence[str]
    runs: int | None = None
    warmup: int | None = None
    prompt: str | None = None
    prompt_file: Path | None = None
    prompt_tokens: str | None = None  # comma lists: "128,512"
    max_tokens: str | None = None
    concurrency: str | None = None
    num_ctx: str | None = None
    think: bool | None = None
    images: Sequence[Path] = ()
    api: str | None = None
    cold: bool | None = None
    seed: int | None = None
    temperature: float | None = None
    suite: str | None = None
    order: Order | None = None
    cooldown: float | None = None
    concurrency_mode: Literal["continuous", "batch"] | None = None
    rate: str | None = None  # open loop, requests/s: "0.5,1,2"
    arrivals: str | None = None
    requests: int | None = None
    duration: float | None = None
    max_concurrency: int | None = None
    dataset: Path | None = None  # JSONL prompts
    turns: int | None = None  # multi-turn chats
    slo: str | None = None
    sweep: bool = False
    power: str | None = None  # auto | nvml | rapl | powermetrics | none
    backend: str | None = None
    ignore_eos: bool | None = None
    threads: int | None = None
    parallel: int | None = None
    ctx_size: int | None = None
    host: str | None = None
    timeout: float | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, validated: the grid in run order and the runner's settings."""

    grid: list[tuple[str, Case]]
    config: RunnerConfig
    options: Options
    backend: str
    max_concurrency: int
    build_backend: Callable[[], Backend] = field(repr=False, compare=False)
    sweep: SweepPlan | None = None  # rates to add once the first phase has measured


def _pick(flag: object, suite: object, default: object) -> object:
    """flag > suite > default, where None means "not given"."""
    if flag is not None:
        return flag
    return suite if suite is not None else default


def _read_prompt(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise UsageError(f"--prompt-file {path} is a directory", hint="give a text file") from None
    except OSError as err:
        raise UsageError(
            f"cannot read {path}: {err.strerror}", hint="check --prompt-file"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"--prompt-file {path} is not UTF-8 text", hint="save the prompt as UTF-8"
        ) from None


def check_image(path: Path) -> None:
    """A readable PNG/JPEG/GIF/WebP/BMP file, or a UsageError saying what it is not."""
    from llmbox.bench.datasets import check_image as read_image

    read_image(path)


def _single(values: list[Lengths], option: str) -> Lengths | None:
    if len(values) > 1:
        raise UsageError(
            f"{option} takes one value with --suite", hint="the suite's cases form the grid"
        )
    return values[0] if values else None


def _suite_cases(
    opts: BenchOptions, grid: GridOptions
) -> tuple[list[Case], int | None, int | None]:
    """The suite's cases with every given flag applied to each case (flag > suite)."""
    assert opts.suite is not None
    suite, base = load_suite(opts.suite)
    pt = _single([as_lengths(p) for p in grid.prompt_tokens], "--prompt-tokens")
    mt = _single([as_lengths(m) for m in grid.max_tokens], "--max-tokens")
    conc = _single([as_lengths(c) for c in grid.concurrency], "--concurrency")
    ctx = _single([as_lengths(c) for c in grid.num_ctx], "--num-ctx")
    out = []
    for case, spec in zip(suite.to_cases(base), suite.cases, strict=True):
        update: dict[str, object] = {}
        no_prompt = {"prompt": None, "prompt_tokens": None, "prompt_dist": None, "dataset": None}
        if grid.prompt is not None:
            update |= {**no_prompt, "prompt": grid.prompt}
        elif grid.dataset is not None:
            update |= {**no_prompt, "dataset": grid.dataset}
        elif pt is not None:
            update |= {**no_prompt, "prompt_tokens": pt.mean, "prompt_dist": pt.spec}
        if mt is not None:
            update |= {"max_tokens": mt.mean, "output_dist": mt.spec}
        if conc is not None:
            update["concurrency"] = conc.mean
        if ctx is not None:
            update["num_ctx"] = ctx.mean
        if opts.think is not None:
            update["think"] = opts.think
        if grid.images:
            update |= {"images": len(grid.images), "image_paths": grid.images}
        if opts.api is not None:
            update["api"] = opts.api
        if opts.cold is not None:
            update["cold"] = opts.cold
        if update:
            case = case.model_copy(update=update)
            if spec.label is None:
                case = case.model_copy(update={"label": label_for(case)})
        out.append(case)
    return out, suite.runs, suite.warmup


def build_plan(opts: BenchOptions) -> Plan:
    """Resolve and validate the options; no request is sent. Raises UsageError."""
    models = [m.strip() for m in opts.models]
    if not models:
        raise UsageError("no model given", hint="e.g. llmbox bench llama3.2:3b")
    if any(not m for m in models):
        raise UsageError("an empty model name was given", hint="e.g. llmbox bench llama3.2:3b")
    if len(set(models)) != len(models):
        raise UsageError("a model is listed twice", hint="list each model once")
    for model in models:
        if "," in model and not Path(model).exists():  # a GGUF path may have a comma
            listed = " ".join(m.strip() for m in model.split(",") if m.strip())
            raise UsageError(
                f"{model!r} is a list: give each model as its own argument",
                hint=f"llmbox bench {listed}",
            )
    if opts.prompt is not None and opts.prompt_file is not None:
        raise UsageError("give --prompt or --prompt-file, not both")
    prompt = _read_prompt(opts.prompt_file) if opts.prompt_file is not None else opts.prompt
    if prompt is not None and not prompt.strip():
        raise UsageError("the prompt is empty", hint="give --prompt TEXT or --prompt-tokens N")
    if prompt is not None and opts.prompt_tokens is not None:
        raise UsageError(
            "give --prompt/--prompt-file (a literal text) or --prompt-tokens (a synthetic "
            "prompt), not both"
        )
    for image in opts.images:
        check_image(image)
    dataset = _check_dataset(opts, prompt)
    turns = opts.turns or 1
    if turns > 1 and opts.api == "generate":
        raise UsageError("--turns needs --api chat", hint="multi-turn chats use /api/chat")
    if turns > 1 and (opts.rate or opts.sweep):
        raise UsageError(
            "--turns runs conversations closed loop, one turn after the other",
            hint="drop --rate/--sweep, or use --concurrency C for C conversations at once",
        )
    for name, value, example in (
        ("--cooldown", opts.cooldown, "--cooldown 2 (seconds)"),
        ("--temperature", opts.temperature, "--temperature 0 (greedy) or 0.8"),
    ):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise UsageError(
                f"{name} must be a finite number ≥ 0, not {value:g}", hint=f"e.g. {example}"
            )
    if opts.seed is not None and opts.seed < -1:  # -1 is "random"; -5 would read as a typo of 5
        raise UsageError(
            f"--seed must be ≥ 0, or -1 for a random seed, not {opts.seed}", hint="e.g. --seed 42"
        )
    if opts.duration is not None and (not math.isfinite(opts.duration) or opts.duration <= 0):
        raise UsageError(
            f"--duration must be a positive number of seconds, not {opts.duration:g}",
            hint="e.g. --rate 2 --duration 60",
        )
    _check_limits(opts)
    if opts.requests is not None and opts.duration is not None:
        raise UsageError("give --requests or --duration, not both")
    rates = parse_rates(opts.rate)
    open_loop_only = {
        "--arrivals": opts.arrivals, "--requests": opts.requests, "--duration": opts.duration,
        "--max-concurrency": opts.max_concurrency,
    }  # fmt: skip
    if not rates and not opts.sweep and (given := [k for k, v in open_loop_only.items() if v]):
        raise UsageError(
            f"{given[0]} applies to open-loop load", hint="add --rate, e.g. --rate 1,2"
        )
    arrivals = parse_arrivals(opts.arrivals or "poisson")
    slo = parse_slo(opts.slo)
    grid_opts = GridOptions(
        prompt=prompt,
        prompt_tokens=_lengths(opts.prompt_tokens, "--prompt-tokens"),
        max_tokens=_lengths(opts.max_tokens, "--max-tokens"),
        concurrency=parse_int_list(opts.concurrency, "--concurrency"),
        num_ctx=parse_int_list(opts.num_ctx, "--num-ctx"),
        think=opts.think,
        images=tuple(str(p) for p in opts.images),
        api="generate" if opts.api == "generate" else "chat",
        cold=bool(opts.cold),
        mode=opts.concurrency_mode or "continuous",
        rates=rates,
        arrivals=arrivals.label,
        requests=opts.requests,
        duration_s=opts.duration,
        max_concurrency=opts.max_concurrency,
        dataset=dataset,
        turns=turns,
    )
    suite_runs = suite_warmup = None
    sweep: SweepPlan | None = None
    if opts.suite:
        cases, suite_runs, suite_warmup = _suite_cases(opts, grid_opts)
    else:
        cases = cases_from_options(grid_opts)
    if opts.sweep:
        if rates or grid_opts.concurrency:
            raise UsageError(
                "--sweep chooses its own load", hint="drop --rate/--concurrency with --sweep"
            )
        top = opts.max_concurrency or defaults.SWEEP_CONCURRENCY
        cases = [c for base in cases for c in sweep_phase_one(base, top)]
        sweep = SweepPlan(
            points=defaults.SWEEP_RATES,
            arrivals=arrivals.label,
            requests=opts.requests,
            duration_s=opts.duration,
        )
    runs = int(str(_pick(opts.runs, suite_runs, defaults.RUNS)))
    for case in cases:
        _check_context(case)
        _check_size(case, runs)
    warmup = int(str(_pick(opts.warmup, suite_warmup, defaults.WARMUP)))
    seed = opts.seed if opts.seed is not None else defaults.SEED
    order: Order = opts.order or "sequential"
    nonce = secrets.token_hex(3)
    config = RunnerConfig(
        runs=runs,
        warmup=warmup,
        seed=None if seed < 0 else seed,
        temperature=opts.temperature if opts.temperature is not None else defaults.TEMPERATURE,
        ignore_eos=bool(opts.ignore_eos),
        nonce=nonce,
        order=order,
        cooldown_s=opts.cooldown or defaults.COOLDOWN_S,
        slo=tuple(slo.items()),
        runs_given=opts.runs is not None or suite_runs is not None,
    )
    backend = opts.backend or defaults.BACKEND
    grid = expand(models, cases)
    if order == "interleave":
        grid = [(m, c) for c in _distinct_cases(grid) for m in models]
    max_conc = max(_in_flight(case) for _, case in grid)
    record = Options(
        models=models,
        runs=runs,
        warmup=warmup,
        seed=config.seed,
        temperature=config.temperature,
        suite=opts.suite,
        api=opts.api or defaults.API,
        think=opts.think,
        cold=bool(opts.cold),
        backend=backend,
        order=order,
        cooldown_s=config.cooldown_s,
        nonce=nonce,
        slo=slo,
        power=_power_kind(opts.power),
    )

    def build_backend() -> Backend:
        import os

        from llmbox.backends.factory import make_backend

        return make_backend(
            backend,
            host=opts.host,
            timeout=opts.timeout,
            max_connections=max_conc + 4,
            api_key=opts.api_key,
            threads=opts.threads,
            parallel=opts.parallel or max_conc,
            ctx_size=opts.ctx_size,
            verbose=os.environ.get("LLMBOX_DEBUG", "") not in ("", "0"),
        )

    return Plan(grid, config, record, backend, max_conc, build_backend, sweep)


def _check_limits(opts: BenchOptions) -> None:
    """The single-number options against their upper bounds (``llmbox.bench.grid.LIMITS``)."""
    for option, value in (
        ("--runs", opts.runs), ("--warmup", opts.warmup), ("--requests", opts.requests),
        ("--max-concurrency", opts.max_concurrency), ("--turns", opts.turns),
        ("--threads", opts.threads), ("--parallel", opts.parallel),
        ("--ctx-size", opts.ctx_size), ("--cooldown", opts.cooldown),
        ("--duration", opts.duration),
    ):  # fmt: skip
        check_limit(option, value)


def _lengths(value: str | None, option: str) -> list[Lengths]:
    """``--prompt-tokens``/``--max-tokens``: parsed, each length within the option's limit."""
    lengths = parse_lengths_list(value, option)
    for item in lengths:
        check_limit(option, item.upper, given=item.spec)
    return lengths


def _check_size(case: Case, runs: int) -> None:
    """A closed-loop case sends runs × concurrency × turns requests: at most MAX_CASE_REQUESTS."""
    if case.rate is not None:
        return  # an open-loop rate sends case.requests, checked when the grid was built
    total = runs * case.concurrency * case.turns
    if total <= MAX_CASE_REQUESTS:
        return
    parts = [f"{runs:,} runs", f"{case.concurrency:,} in flight"]
    if case.turns > 1:
        parts.append(f"{case.turns:,} turns")
    fits = max(1, MAX_CASE_REQUESTS // (case.concurrency * case.turns))
    raise UsageError(
        f"{case.label}: {' × '.join(parts)} is {total:,} requests, more than "
        f"{MAX_CASE_REQUESTS:,} per case, the limit",
        hint=f"with --concurrency C each run sends C requests; e.g. --runs {min(fits, 10)}",
    )


def _power_kind(kind: str | None) -> str:
    from llmbox.power import KINDS

    if kind is None:
        return "none"
    if kind not in KINDS:
        raise UsageError(f"--power {kind!r}: unknown meter", hint="one of " + ", ".join(KINDS))
    return kind


def _in_flight(case: Case) -> int:
    """Requests a case may have in flight at once (for connection pools and engine slots)."""
    if case.rate is not None:
        return case.max_concurrency or defaults.OPEN_LOOP_CONNECTIONS
    return case.concurrency


def _distinct_cases(grid: Sequence[tuple[str, Case]]) -> list[Case]:
    seen: list[Case] = []
    for _, case in grid:
        if case not in seen:
            seen.append(case)
    return seen


def _check_dataset(opts: BenchOptions, prompt: str | None) -> str | None:
    """``--dataset FILE``: loaded once here, so a bad file fails before any request."""
    if opts.dataset is None:
        return None
    if prompt is not None or opts.prompt_tokens is not None:
        raise UsageError(
            "give --dataset or --prompt/--prompt-file/--prompt-tokens, not both",
            hint="a dataset brings its own prompts",
        )
    from llmbox.bench.datasets import load_jsonl

    load_jsonl(opts.dataset)
    return str(opts.dataset)


def _check_context(case: Case) -> None:
    if case.num_ctx is None:
        return
    tokens = case.prompt_tokens
    if case.prompt_dist:
        tokens = from_spec(case.prompt_dist).upper
    if tokens is None and case.prompt is not None:
        tokens = round(len(case.prompt.split()) * 1.3)  # a rough size of a literal prompt
    if tokens is not None and case.turns > 1:  # the last turn carries the whole conversation
        tokens = case.turns * tokens + (case.turns - 1) * case.max_tokens
    if tokens is not None and tokens >= case.num_ctx:
        raise UsageError(
            f"{case.label}: a prompt of about {tokens} tokens does not fit --num-ctx "
            f"{case.num_ctx}; the server would cut it and measure a shorter prompt",
            hint=f"raise --num-ctx above {tokens + case.max_tokens} or shorten the prompt",
        )
