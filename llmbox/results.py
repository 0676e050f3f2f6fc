"""The benchmark report: one typed model, from the first request to the last consumer.

Backends fill ``RunSample`` and ``ModelInfo``; the runner assembles ``CaseResult`` and
``BenchReport``; exporters, gates, comparisons, calibration and the history store read the same
objects. ``BenchReport.to_json_dict()`` is the documented ``llmbox.bench/1`` JSON
(docs/benchmarking.md, JSON Schema in docs/schema/); ``BenchReport.load(path)`` reads it back,
validated, as the same typed object. Fields may be added in a minor revision (with a default, so
older files still load); renaming or removing one needs ``llmbox.bench/2``.

Durations reported by servers stay in integer nanoseconds (``*_ns``); client-side timings, taken
from stream arrival times, are float seconds (``*_s``).

This module sits below ``backends/`` and ``bench/``: it imports nothing of llmbox but the errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmbox.errors import UsageError

SCHEMA = "llmbox.bench/1"

Api = Literal["chat", "generate"]
Think = bool | str | None
CountsSource = Literal["server", "usage", "chunks"]

_LOAD_HINT = "give a file written by llmbox bench --output json:PATH (or -f json)"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Case(_Model):
    """One cell of the grid: everything about a request except the model.

    ``prompt`` and ``image_paths`` drive the requests but are not recorded (a prompt can be long,
    a path means nothing on another machine); the report keeps the image count.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    prompt_tokens: int | None = None  # target size of a synthetic prompt (None: literal prompt)
    max_tokens: int = 128
    concurrency: int = 1
    think: Think = None
    images: int = 0
    api: Api = "chat"
    num_ctx: int | None = None
    cold: bool = False
    mode: Literal["continuous", "batch"] = "continuous"  # how concurrency > 1 is kept up
    rate: float | None = None  # open loop: requests per second (None: closed loop)
    arrivals: str = "poisson"  # open loop: poisson | constant | gamma:K
    requests: int | None = None  # open loop: requests sent at this rate
    max_concurrency: int | None = None  # open loop: cap on requests in flight
    prompt_dist: str | None = None  # prompt tokens drawn per request: "LO:HI" or "MEAN~SD"
    output_dist: str | None = None  # max_tokens drawn per request, same forms
    dataset: str | None = None  # prompts from a JSONL file or a generator (llmbox.bench.datasets)
    turns: int = 1  # multi-turn chats: requests per conversation
    shared_prefix: bool = False  # turns resend the conversation so far (the prompt cache's case)
    prompt: str | None = Field(default=None, exclude=True)
    image_paths: tuple[str, ...] = Field(default=(), exclude=True)


class _NoFieldsSet(set[str]):
    """pydantic's record of which fields a caller gave, kept empty (see RunSample)."""

    def add(self, element: str) -> None:
        pass

    def update(self, *others: Iterable[str]) -> None:
        pass


_NO_FIELDS_SET = _NoFieldsSet()


class RunSample(_Model):
    """What one request measured. Server fields default to 0 (Ollama omits zero values)."""

    def model_post_init(self, context: Any, /) -> None:
        # A long run holds one sample per request. pydantic keeps a set of the fields each one
        # was given (~700 bytes for a typical sample, a third of it); llmbox never asks
        # (exports write every field), so all samples share one set that stays empty.
        object.__setattr__(self, "__pydantic_fields_set__", _NO_FIELDS_SET)

    prompt_eval_count: int = 0
    prompt_eval_duration_ns: int = 0
    cached_prompt_tokens: int | None = None  # None: the server does not say
    eval_count: int = 0
    eval_duration_ns: int = 0
    thinking_tokens: int = 0
    load_duration_ns: int = 0
    total_duration_ns: int = 0
    ttft_s: float | None = None  # first token of any kind (thinking or answer)
    ttft_answer_s: float | None = None  # first answer token
    e2e_s: float | None = None
    itl_mean_s: float | None = None  # mean gap between token arrivals after the first
    itl_max_s: float | None = None
    queue_s: float | None = None  # time waited for a free slot (see llmbox.bench.runner)
    sched_delay_s: float | None = None  # open loop: actual send − scheduled arrival (included
    # in ttft_s, ttft_answer_s and e2e_s, which count from the scheduled arrival)
    done_reason: str | None = None
    status: int | None = None  # HTTP status of a failed request (e.g. 503 queue full)
    error: str | None = None
    batch: int = 0  # which round (sequential) or concurrent batch
    counts_source: CountsSource = "server"  # see docs/backends.md
    started_at: str = ""
    task: str | None = None  # dataset item id (--dataset, --suite quality/reasoning)
    task_type: str | None = None  # the item's type, e.g. math, code, needle
    passed: bool | None = None  # a checked item: did the answer pass (None: nothing to check)
    verdict: str | None = None  # why a checked answer failed, e.g. "expected 391, got 392"
    answer: str | None = None  # the answer text, kept for checked items only
    turn: int | None = None  # multi-turn chats: 1-based turn within its conversation
    shared_prefix_tokens: int | None = None  # multi-turn: tokens this request shares with the
    # conversation's previous request (its prompt + answer), counted by the client

    @property
    def ok(self) -> bool:
        return self.error is None


class ModelInfo(_Model):
    """What the server says about a model (``/api/show`` + ``/api/ps``)."""

    name: str
    digest: str = ""
    parameter_size: str = ""
    parameter_count: int | None = None
    quantization: str = ""
    family: str = ""
    size: int = 0  # bytes on disk (tags) or in memory once loaded (ps)
    size_vram: int | None = None
    context_length: int | None = None
    capabilities: list[str] = Field(default_factory=list)
    processor: str | None = None  # "100% GPU", "7%/93% CPU/GPU"


class BatchStats(_Model):
    """One concurrent batch: N requests sent at once, measured over the batch's wall time."""

    batch: int
    requests: int
    failed: int
    wall_s: float
    output_tokens: int
    aggregate_tps: float = 0.0  # output_tokens / wall_s

    @classmethod
    def of(
        cls, batch: int, requests: int, failed: int, wall_s: float, output_tokens: int
    ) -> BatchStats:
        tps = output_tokens / wall_s if wall_s > 0 else 0.0
        return cls(
            batch=batch,
            requests=requests,
            failed=failed,
            wall_s=wall_s,
            output_tokens=output_tokens,
            aggregate_tps=tps,
        )


class Stat(_Model):
    """Statistics of one metric over a case's samples (see ``llmbox.bench.metrics.stats``)."""

    n: float
    mean: float
    sd: float
    median: float
    min: float
    max: float
    p50: float
    p90: float | None = None
    p99: float | None = None

    def get(self, name: str) -> float | None:
        """A statistic by name (``mean``, ``p90`` …); None when not computed."""
        value = getattr(self, name, None)
        return value if isinstance(value, (int, float)) else None


class BenchWarning(_Model):
    """One of a closed set of warnings, with advice (see ``llmbox.bench.warnings``)."""

    code: str
    message: str
    advice: str


class GateResult(_Model):
    """One gate checked against one result. For ``regression``: ``value`` is how much worse the
    metric got in percent (positive: worse) and ``limit`` the allowed percent."""

    model: str
    case: str
    metric: str
    stat: str
    value: float | None
    limit: float
    kind: Literal["under", "over", "regression"]
    passed: bool
    message: str


class Baseline(_Model):
    """What ``--baseline SPEC`` compared this run with: ``source`` names it for a reader ("run 12
    in /path/history.db", or the file), ``started_at`` when that run began."""

    spec: str
    source: str
    started_at: str | None = None


class Power(_Model):
    """Energy measured during a case's measured runs (``bench --power``)."""

    source: str  # rapl | nvml | powermetrics
    scope: str  # what the meter covers, e.g. "package+dram", "GPU 0"
    watts: float  # average over the interval
    joules: float
    seconds: float
    samples: int


class CaseResult(_Model):
    model: str
    model_info: ModelInfo
    case: Case
    runs: list[RunSample] = Field(default_factory=list)
    batches: list[BatchStats] = Field(default_factory=list)
    summary: dict[str, Stat] = Field(default_factory=dict)
    warnings: list[BenchWarning] = Field(default_factory=list)
    initial_load_s: float | None = None
    failed_runs: int = 0
    image_tokens: int | None = None  # prompt tokens the images took (median), with --image
    power: Power | None = None  # with --power, where a meter works

    @property
    def joules_per_token(self) -> float | None:
        """Measured energy per generated token (thinking included); None without a meter."""
        tokens = sum(r.eval_count for r in self.runs if r.ok)
        return self.power.joules / tokens if self.power is not None and tokens else None

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if not r.ok)

    @property
    def model_missing(self) -> bool:
        """The server did not have the model (the only run is a 404)."""
        return len(self.runs) == 1 and self.runs[0].status == 404


class Server(BaseModel):
    """Who served the benchmark; backends add their own facts (e.g. llama.cpp's model list)."""

    model_config = ConfigDict(extra="allow")
    kind: str
    host: str
    version: str | None = None


class Options(BaseModel):
    """The options the benchmark ran with, after precedence (flag > suite > default)."""

    model_config = ConfigDict(extra="allow")  # older and newer llmbox versions add options
    models: list[str] = Field(default_factory=list)
    runs: int = 0
    warmup: int = 0
    seed: int | None = None
    temperature: float = 0.0
    suite: str | None = None
    api: str = "chat"
    think: Think = None
    cold: bool = False
    backend: str = "ollama"
    order: Literal["sequential", "interleave"] = "sequential"
    cooldown_s: float = 0.0
    nonce: str | None = None  # makes this invocation's prompts unseen by any server cache
    slo: dict[str, float] = Field(default_factory=dict)  # --slo: metric -> limit (s)
    power: str = "none"  # --power: the meter asked for (auto | nvml | rapl | powermetrics | none)


class BenchReport(_Model):
    """A whole benchmark: provenance plus one CaseResult per (model, case)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["llmbox.bench/1"] = Field(default="llmbox.bench/1", alias="schema")
    llmbox_version: str
    backend: Literal["ollama", "openai", "embedded"]
    server: Server
    machine: dict[str, Any] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    interrupted: bool = False
    options: Options = Field(default_factory=Options)
    results: list[CaseResult] = Field(default_factory=list)
    baseline: Baseline | None = None
    gates: list[GateResult] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``llmbox.bench/1`` JSON object, keys in the documented order."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def parse(cls, data: Any, source: str = "report") -> BenchReport:
        """Validate decoded JSON; a mismatch raises UsageError naming the first bad field."""
        if not isinstance(data, dict) or not str(data.get("schema", "")).startswith(
            "llmbox.bench/"
        ):
            raise UsageError(f"{source} is not an llmbox benchmark result", hint=_LOAD_HINT)
        if data.get("schema") != SCHEMA:
            raise UsageError(
                f"{source} has schema {data.get('schema')!r}; this llmbox reads {SCHEMA}",
                hint="upgrade llmbox to read newer result files",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            if unknown := [e for e in err.errors() if e["type"] == "extra_forbidden"]:
                raise _newer(source, [".".join(map(str, e["loc"])) for e in unknown]) from None
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UsageError(
                f"{source} does not match the {SCHEMA} schema: {where}: {first['msg']}",
                hint=_LOAD_HINT,
            ) from None

    @classmethod
    def load(cls, path: Path) -> BenchReport:
        """Read a saved ``llmbox bench`` JSON file, validated."""
        try:
            text = path.read_bytes().decode("utf-8")
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory, not a result file", hint=_LOAD_HINT) from None
        except OSError as err:
            raise UsageError(f"cannot read {path}: {err.strerror}", hint="check the path") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text", hint=_LOAD_HINT) from None
        try:
            data = json.loads(text)
        except ValueError as err:
            raise UsageError(f"{path} is not valid JSON: {err}", hint=_LOAD_HINT) from None
        return cls.parse(data, str(path))


def _newer(source: str, fields: list[str]) -> UsageError:
    """Fields this model does not know: the file is most likely from a newer llmbox, and
    dropping them silently would lose data, so it is refused with the way out."""
    from llmbox import __version__

    names = ", ".join(fields[:3]) + (f" (and {len(fields) - 3} more)" if len(fields) > 3 else "")
    return UsageError(
        f"{source} has field(s) llmbox {__version__} does not know: {names}; it was probably "
        "written by a newer llmbox",
        hint="upgrade llmbox (pip install -U llmbox) to read it; nothing was changed",
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``llmbox.bench/1`` as produced (docs/schema/bench-1.json)."""
    return BenchReport.model_json_schema(by_alias=True, mode="serialization")


def shown_time(stamp: str) -> str:
    """A start time for people: the stamp without its fraction of a second (the JSON, JSONL and
    CSV keep the whole stamp).

    >>> shown_time("2026-11-30T16:25:49.123456Z"), shown_time("2026-11-30T16:25:49Z")
    ('2026-11-30T16:25:49Z', '2026-11-30T16:25:49Z')
    >>> shown_time("2026-11-30T17:25:49.5+01:00")
    '2026-11-30T17:25:49+01:00'
    """
    head, dot, tail = stamp.partition(".")
    return head + tail.lstrip("0123456789") if dot else stamp


def pairs_text(pairs: Sequence[tuple[str, str]], most: int = 3) -> str:
    """``"llama3.2:3b pp512 tg128, qwen3:4b pp512 tg128 and 2 more"``; ``"nothing"`` for none."""
    if not pairs:
        return "nothing"
    shown = ", ".join(f"{m} {c}" for m, c in pairs[:most])
    return shown + (f" and {len(pairs) - most} more" if len(pairs) > most else "")
