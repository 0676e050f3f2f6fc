"""The ``llmbox.bench/1`` JSON schema as pydantic models: one schema for every backend.

``validate_report(data)`` checks a report dict (what ``--format json`` prints and
``--output json:PATH`` writes); ``bench compare`` and ``--baseline`` use it on files they read.
Fields may be added in a minor revision; renaming or removing one needs ``llmbox.bench/2``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmbox.errors import UsageError

_HINT = "give a file written by llmbox bench --output json:PATH (or -f json)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stat(_Strict):
    n: float
    mean: float
    sd: float
    median: float
    min: float
    max: float
    p50: float
    p90: float | None = None
    p99: float | None = None


class Run(_Strict):
    prompt_eval_count: int
    prompt_eval_duration_ns: int
    cached_prompt_tokens: int | None
    eval_count: int
    eval_duration_ns: int
    thinking_tokens: int
    load_duration_ns: int
    total_duration_ns: int
    ttft_s: float | None
    ttft_answer_s: float | None
    e2e_s: float | None
    itl_mean_s: float | None
    itl_max_s: float | None
    done_reason: str | None
    status: int | None
    error: str | None
    batch: int
    counts_source: Literal["server", "usage", "chunks"]
    started_at: str


class ModelInfoOut(_Strict):
    name: str
    digest: str
    parameter_size: str
    parameter_count: int | None
    quantization: str
    family: str
    size: int
    size_vram: int | None
    context_length: int | None
    capabilities: list[str]
    processor: str | None


class CaseOut(_Strict):
    label: str
    prompt_tokens: int | None
    max_tokens: int
    concurrency: int
    think: bool | str | None
    images: int
    api: Literal["chat", "generate"]
    num_ctx: int | None
    cold: bool


class Batch(_Strict):
    batch: int
    requests: int
    failed: int
    wall_s: float
    output_tokens: int
    aggregate_tps: float


class WarningOut(_Strict):
    code: str
    message: str
    advice: str


class Result(_Strict):
    model: str
    model_info: ModelInfoOut
    case: CaseOut
    runs: list[Run]
    batches: list[Batch]
    summary: dict[str, Stat]
    warnings: list[WarningOut]
    initial_load_s: float | None
    failed_runs: int


class Server(BaseModel):
    model_config = ConfigDict(extra="allow")  # backends add their own facts
    kind: str
    host: str
    version: str | None


class Report(_Strict):
    schema_: Literal["llmbox.bench/1"] = Field(alias="schema")
    llmbox_version: str
    backend: Literal["ollama", "openai", "embedded"]
    server: Server
    machine: dict[str, Any]
    started_at: str
    finished_at: str | None
    interrupted: bool
    options: dict[str, Any]
    results: list[Result]
    gates: list[dict[str, Any]]


def load_report(path: Path) -> dict[str, Any]:
    """Read a saved ``llmbox bench`` JSON file and check it against the schema."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}", hint="check the path") from None
    except ValueError as err:
        raise UsageError(f"{path} is not valid JSON: {err}", hint=_HINT) from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("llmbox.bench/"):
        raise UsageError(f"{path} is not an llmbox benchmark result", hint=_HINT)
    validate_report(data, str(path))
    return data


def validate_report(data: Any, source: str = "report") -> Report:
    """Parse ``data``; a mismatch raises UsageError naming the first bad field."""
    try:
        return Report.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(
            f"{source} does not match the llmbox.bench/1 schema: {where}: {first['msg']}",
            hint=_HINT,
        ) from None
