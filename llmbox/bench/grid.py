"""Expand list-valued options and suites into an ordered grid of (model, case).

The grid is ordered so each model is loaded once: model outermost, then context size (changing
``num_ctx`` reloads a model), then the rest in the order given.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmbox import defaults
from llmbox.bench.mixes import Lengths, as_lengths
from llmbox.errors import UsageError
from llmbox.results import Api, Case


def label_for(case: Case) -> str:
    """llama-bench-style labels: ``pp512 tg128``, ``tg128 c4``, ``pp512 tg128 +img think``."""
    if case.dataset:
        first = Path(case.dataset).stem if case.dataset.endswith(".jsonl") else case.dataset
    elif case.prompt_tokens:
        first = f"pp{case.prompt_dist or case.prompt_tokens}"
    else:
        first = "prompt"
    parts = [first, f"tg{case.output_dist or case.max_tokens}"]
    if case.concurrency > 1:
        parts.append(f"c{case.concurrency}" + (" batch" if case.mode == "batch" else ""))
    if case.rate is not None:
        parts.append(f"@{case.rate:.3g}/s")
        if case.arrivals != "poisson":
            parts.append(case.arrivals)
        if case.max_concurrency:
            parts.append(f"max{case.max_concurrency}")
    if case.num_ctx:
        parts.append(f"ctx{case.num_ctx}")
    if case.images:
        parts.append("+img" if case.images == 1 else f"+{case.images}img")
    if case.think is True:
        parts.append("think")
    elif case.think is False:
        parts.append("no-think")
    elif isinstance(case.think, str):
        parts.append(f"think={case.think}")
    if case.cold:
        parts.append("cold")
    if case.turns > 1:
        parts.append(f"turns{case.turns}" + ("" if case.shared_prefix else " no-cache"))
    return " ".join(parts)


# -- upper bounds -------------------------------------------------------------------------------

#: The most requests one case may send, closed loop (runs × concurrency × turns) or one open-loop
#: rate: each is planned, and its sample held in memory and in the report.
MAX_OPEN_LOOP_REQUESTS = MAX_CASE_REQUESTS = 100_000

#: No model reads a longer context (the longest, Llama 4 Scout, takes 10 M tokens).
MAX_CONTEXT_TOKENS = 16 * 1024 * 1024

_IN_FLIGHT = "each request in flight holds its own connection; no server runs more at once"
_CONTEXT = "no model reads a longer context"


@dataclass(frozen=True)
class Limit:
    """The most an option takes, and why more is never what was meant."""

    most: float
    why: str
    example: str
    unit: str = ""  # after the limit: " s", " per rate"


#: The upper bound of every count and time option of ``llmbox bench``, in this one place (suites
#: are held to the same). Past these a slip of the finger (an extra 0, a pasted number) would run
#: for days or fill memory before the first request; it would never measure better.
LIMITS: dict[str, Limit] = {
    "--runs": Limit(
        10_000, "the mean's error shrinks with √runs: 10,000 pin it to 1% of one run's spread", "10"
    ),
    "--warmup": Limit(
        1_000, "warm-up runs only load the model and fill caches; one or two do that", "1"
    ),
    "--concurrency": Limit(4_096, _IN_FLIGHT, "1,2,4,8"),
    "--max-concurrency": Limit(4_096, _IN_FLIGHT, "64"),
    "--parallel": Limit(4_096, "each slot holds its own context in memory", "4"),
    "--threads": Limit(4_096, "no machine has more cores", "8"),
    "--requests": Limit(
        MAX_OPEN_LOOP_REQUESTS,
        "each request of a rate is planned, and held, before the load starts",
        "100",
        " per rate",
    ),
    "--turns": Limit(1_000, "each turn resends the whole conversation so far", "4"),
    "--num-ctx": Limit(MAX_CONTEXT_TOKENS, _CONTEXT, "8k"),
    "--ctx-size": Limit(MAX_CONTEXT_TOKENS, _CONTEXT, "8192"),
    "--prompt-tokens": Limit(MAX_CONTEXT_TOKENS, _CONTEXT, "512"),
    "--max-tokens": Limit(MAX_CONTEXT_TOKENS, _CONTEXT, "128"),
    "--cooldown": Limit(
        3_600,
        "a longer pause measures a cold server (Ollama unloads a model idle for 5 min)",
        "2",
        " s",
    ),
    "--duration": Limit(86_400, "a day of load per rate; for a longer soak, run again", "60", " s"),
}


def check_limit(option: str, value: float | None, *, given: str | None = None) -> None:
    """A UsageError when ``value`` is above the option's limit in ``LIMITS`` (None: not given);
    ``given`` is the value as the user wrote it, when that is not ``value`` (``256~64``).

    >>> check_limit("--runs", 10_000)
    >>> check_limit("--runs", 100_000_000)
    Traceback (most recent call last):
    llmbox.errors.UsageError: --runs 100000000 is more than 10,000, the limit
    """
    limit = LIMITS[option]
    if value is None or value <= limit.most:
        return
    most = _number(limit.most, ",") + limit.unit
    raise UsageError(
        f"{option} {given or _number(value)} is more than {most}, the limit",
        hint=f"{limit.why}; e.g. {option} {limit.example}",
    )


def _number(value: float, sep: str = "") -> str:
    return format(int(value), sep) if value == int(value) else format(value, "g")


def parse_int_list(value: str | None, option: str, *, minimum: int = 1) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; a clear UsageError for anything else."""
    if value is None or value == "":
        return []
    out = []
    for item in value.split(","):
        item = item.strip().lower().replace("_", "")
        mult = 1024 if item.endswith("k") else 1
        try:
            number = int(item[:-1] if mult > 1 else item) * mult
        except ValueError:
            raise UsageError(
                f"{option}: {item!r} is not a whole number", hint=f"e.g. {option} 1,2,4"
            ) from None
        if number < minimum:
            raise UsageError(
                f"{option}: {number} is below {minimum}", hint=f"e.g. {option} {minimum}"
            )
        if option in LIMITS:
            check_limit(option, number)
        out.append(number)
    return out


@dataclass(frozen=True)
class GridOptions:
    """List-valued options from the command line (empty list: not given)."""

    prompt: str | None = None
    prompt_tokens: Sequence[int | Lengths] = ()
    max_tokens: Sequence[int | Lengths] = ()
    concurrency: Sequence[int] = ()
    num_ctx: Sequence[int] = ()
    think: bool | str | None = None
    images: tuple[str, ...] = ()
    api: Api = "chat"
    cold: bool = False
    mode: Literal["continuous", "batch"] = "continuous"
    rates: Sequence[float] = ()  # open loop, requests per second
    arrivals: str = "poisson"
    requests: int | None = None  # open loop: per rate (None: see load.default_requests)
    duration_s: float | None = None  # open loop: requests = rate × duration
    max_concurrency: int | None = None
    dataset: str | None = None  # a JSONL path or a generator (llmbox.bench.datasets)
    turns: int = 1  # > 1: multi-turn chats, each run with and without the shared prefix


DEFAULT_MAX_TOKENS = defaults.MAX_TOKENS
DEFAULT_PROMPT_TOKENS = defaults.PROMPT_TOKENS


def cases_from_options(opts: GridOptions) -> list[Case]:
    prompt_sizes: list[Lengths | None] = [None]
    if opts.prompt is None and opts.dataset is None:
        prompt_sizes = [as_lengths(p) for p in opts.prompt_tokens or [DEFAULT_PROMPT_TOKENS]]
    outputs = [as_lengths(m) for m in opts.max_tokens or [DEFAULT_MAX_TOKENS]]
    shared = [True, False] if opts.turns > 1 else [False]
    contexts: list[int | None] = list(opts.num_ctx) or [None]
    if opts.rates and opts.concurrency:
        raise UsageError(
            "give --rate (open loop) or --concurrency (closed loop), not both",
            hint="cap requests in flight under --rate with --max-concurrency",
        )
    loads: list[tuple[int, float | None]] = [(c, None) for c in opts.concurrency or [1]]
    if opts.rates:
        loads = [(1, r) for r in opts.rates]
    cases = []
    for ctx, pt, mt, (conc, rate), share in itertools.product(
        contexts, prompt_sizes, outputs, loads, shared
    ):
        case = Case(
            mode=opts.mode,
            rate=rate,
            arrivals=opts.arrivals,
            requests=_open_loop_requests(opts, rate),
            max_concurrency=opts.max_concurrency if rate is not None else None,
            label="",
            prompt_tokens=pt.mean if pt else None,
            prompt_dist=pt.spec if pt else None,
            prompt=opts.prompt,
            max_tokens=mt.mean,
            output_dist=mt.spec,
            dataset=opts.dataset,
            turns=opts.turns,
            shared_prefix=share,
            concurrency=conc,
            think=opts.think,
            images=len(opts.images),
            image_paths=opts.images,
            api=opts.api,
            num_ctx=ctx,
            cold=opts.cold,
        )
        cases.append(case.model_copy(update={"label": label_for(case)}))
    return cases


def _open_loop_requests(opts: GridOptions, rate: float | None) -> int | None:
    if rate is None:
        return None
    if opts.requests is not None:
        n = opts.requests
    elif opts.duration_s is not None:
        exact = rate * opts.duration_s
        if exact < 1:
            raise UsageError(
                f"--rate {rate:g} for --duration {opts.duration_s:g} s is {exact:.2g} requests: "
                "less than one",
                hint=f"give a longer --duration (≥ {1 / rate:.3g} s) or --requests N",
            )
        n = round(exact)
    else:
        from llmbox.bench.load import default_requests

        n = default_requests(rate)
    if n > MAX_OPEN_LOOP_REQUESTS:
        raise UsageError(
            f"--rate {rate:g} would send {n:,} requests, more than {MAX_OPEN_LOOP_REQUESTS:,} "
            "per rate",
            hint="give a lower --rate, a shorter --duration or --requests N",
        )
    return n


def expand(models: Sequence[str], cases: Sequence[Case]) -> list[tuple[str, Case]]:
    """Model-major order, then by context size, keeping the given order otherwise."""
    ordered = sorted(enumerate(cases), key=lambda ic: (ic[1].num_ctx or 0, ic[0]))
    return [(m, c) for m in models for _, c in ordered]


# -- suites --------------------------------------------------------------------------------------


class SuiteCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    prompt: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=1, le=MAX_CONTEXT_TOKENS)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1, le=MAX_CONTEXT_TOKENS)
    concurrency: int = Field(default=1, ge=1, le=LIMITS["--concurrency"].most)
    think: bool | str | None = None
    images: list[str] = Field(default_factory=list)
    api: Api = "chat"
    num_ctx: int | None = Field(default=None, ge=1, le=MAX_CONTEXT_TOKENS)
    cold: bool = False
    dataset: str | None = None  # JSONL (relative to the suite) or a generator: needle:N, okng

    @model_validator(mode="after")
    def _one_prompt_kind(self) -> SuiteCase:
        given = [k for k in ("prompt", "prompt_tokens", "dataset") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give {given[0]} or {given[1]}, not both (a case takes one of prompt: a literal "
                "text, prompt_tokens: a synthetic prompt, dataset: a JSONL file or generator)"
            )
        return self


class Suite(BaseModel):
    """A benchmark suite file (``configs/suites/*.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    runs: int | None = Field(default=None, ge=1, le=LIMITS["--runs"].most)
    warmup: int | None = Field(default=None, ge=0, le=LIMITS["--warmup"].most)
    cases: list[SuiteCase] = Field(min_length=1)

    def to_cases(self, base: Path) -> list[Case]:
        from llmbox.bench.datasets import is_generated

        out = []
        for sc in self.cases:
            images = tuple(
                str((base / p) if not Path(p).is_absolute() else Path(p)) for p in sc.images
            )
            dataset = sc.dataset
            if (
                dataset is not None
                and not is_generated(dataset)
                and not Path(dataset).is_absolute()
            ):
                dataset = str(base / dataset)
            if sc.prompt is None and sc.prompt_tokens is None and dataset is None:
                sc = sc.model_copy(update={"prompt_tokens": DEFAULT_PROMPT_TOKENS})
            case = Case(
                label="",
                prompt=sc.prompt,
                prompt_tokens=sc.prompt_tokens,
                max_tokens=sc.max_tokens,
                concurrency=sc.concurrency,
                think=sc.think,
                images=len(images),
                image_paths=images,
                api=sc.api,
                num_ctx=sc.num_ctx,
                cold=sc.cold,
                dataset=dataset,
            )
            out.append(case.model_copy(update={"label": sc.label or label_for(case)}))
        return out


def suites_dir() -> Path:
    from llmbox.config import configs_dir

    return configs_dir() / "suites"


def available_suites() -> list[str]:
    return sorted(p.stem for p in suites_dir().glob("*.yaml"))


def load_suite(name_or_path: str) -> tuple[Suite, Path]:
    """A suite by name (``quick``) or path, and the directory its relative paths resolve from."""
    from llmbox.yamlio import load_yaml_model

    path = Path(name_or_path)
    if not path.is_file():
        path = suites_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UsageError(
            f"no suite named {name_or_path!r}",
            hint=f"use one of: {', '.join(available_suites())}, or a path to a YAML file",
        )
    return load_yaml_model(path, Suite), path.parent
