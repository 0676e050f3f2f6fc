"""The benchmark's data: what was asked (Case), what one request measured (RunSample), and the
results with their provenance. Plain dataclasses, serialised by ``to_dict`` into the documented
``llmbox.bench/1`` JSON schema (docs/benchmarking.md).

Durations reported by servers stay in integer nanoseconds (``*_ns``); client-side timings, taken
from stream arrival times, are float seconds (``*_s``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SCHEMA = "llmbox.bench/1"

Api = Literal["chat", "generate"]
Think = bool | str | None


@dataclass(frozen=True)
class Case:
    """One cell of the grid: everything about a request except the model."""

    label: str
    prompt_tokens: int | None = None  # target size of a synthetic prompt (None: literal prompt)
    prompt: str | None = None  # literal prompt text (None: synthetic)
    max_tokens: int = 128
    concurrency: int = 1
    think: Think = None
    images: tuple[str, ...] = ()  # file paths
    api: Api = "chat"
    num_ctx: int | None = None
    cold: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
            "concurrency": self.concurrency,
            "think": self.think,
            "images": len(self.images),
            "api": self.api,
            "num_ctx": self.num_ctx,
            "cold": self.cold,
        }


@dataclass
class RunSample:
    """What one request measured. Server fields default to 0 (Ollama omits zero values)."""

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
    done_reason: str | None = None
    status: int | None = None  # HTTP status of a failed request (e.g. 503 queue full)
    error: str | None = None
    batch: int = 0  # which concurrent batch (concurrency > 1)
    counts_source: str = "server"  # "server" | "usage" | "chunks" (see docs/backends.md)
    started_at: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelInfo:
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
    capabilities: list[str] = field(default_factory=list)
    processor: str | None = None  # "100% GPU", "7%/93% CPU/GPU"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchStats:
    """One concurrent batch: N requests sent at once, measured over the batch's wall time."""

    batch: int
    requests: int
    failed: int
    wall_s: float
    output_tokens: int

    @property
    def aggregate_tps(self) -> float:
        return self.output_tokens / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "aggregate_tps": self.aggregate_tps}


@dataclass
class Warning_:
    """A closed set of warnings, each with advice (see llmbox.bench.warnings)."""

    code: str
    message: str
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CaseResult:
    model: str
    case: Case
    model_info: ModelInfo
    runs: list[RunSample] = field(default_factory=list)
    batches: list[BatchStats] = field(default_factory=list)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[Warning_] = field(default_factory=list)
    initial_load_s: float | None = None
    prompt_text_tokens_per_word: float | None = None

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if not r.ok)

    @property
    def model_missing(self) -> bool:
        """The server did not have the model (the only run is a 404)."""
        return len(self.runs) == 1 and self.runs[0].status == 404

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_info": self.model_info.to_dict(),
            "case": self.case.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "batches": [b.to_dict() for b in self.batches],
            "summary": self.summary,
            "warnings": [w.to_dict() for w in self.warnings],
            "initial_load_s": self.initial_load_s,
            "failed_runs": self.failed,
        }


@dataclass
class BenchReport:
    """A whole benchmark: provenance plus one CaseResult per (model, case)."""

    llmbox_version: str
    backend: str
    server: dict[str, Any]
    machine: dict[str, Any]
    started_at: str
    options: dict[str, Any]
    results: list[CaseResult] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    finished_at: str | None = None
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "llmbox_version": self.llmbox_version,
            "backend": self.backend,
            "server": self.server,
            "machine": self.machine,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
            "options": self.options,
            "results": [r.to_dict() for r in self.results],
            "gates": self.gates,
        }
