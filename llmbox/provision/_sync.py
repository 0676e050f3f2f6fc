"""``sync``: make a machine hold exactly the models a YAML file declares.

The file is validated before anything changes; the plan is a pure function of the file and what
the server has, so ``--dry-run`` shows exactly what a real run would do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmbox.client import OllamaClient
from llmbox.errors import ExitCode, LlmboxError, ServerUnreachable
from llmbox.names import name_problem, normalize_name, same_model
from llmbox.provision._inventory import (
    InstalledModel,
    ModelChange,
    list_models,
    load_model,
    remove_models,
)
from llmbox.provision._names import keep_alive_seconds, parse_keep_alive
from llmbox.provision._pull import (
    BACKOFF_BASE_S,
    DEFAULT_RETRIES,
    EventSink,
    PullResult,
    Sleep,
    _ignore,
    combined_exit_code,
    pull_model,
)


class ModelEntry(BaseModel):
    """One model the machine must have. A bare string in the file is shorthand for ``name``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Model name as `ollama pull` takes it.")
    preload: bool = Field(False, description="Load it into memory after the sync.")
    keep_alive: str | float | None = Field(
        None,
        description="How long a preloaded model stays loaded: seconds (-1 = forever) or a "
        "duration such as 10m or 1h. Implies preload.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(f"invalid model name {value!r}: {problem}")
        return value

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _keep_alive(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError("keep_alive must be seconds or a duration such as 10m")
        parsed = parse_keep_alive(value)
        if keep_alive_seconds(parsed) == 0:
            raise ValueError("keep_alive 0 would unload the model at once: give a duration or -1")
        return parsed

    @property
    def wants_load(self) -> bool:
        return self.preload or self.keep_alive is not None


class MachineSpec(BaseModel):
    """The sync file: ``models:`` a list of names or ``{name, preload, keep_alive}`` entries."""

    model_config = ConfigDict(extra="forbid")

    models: list[ModelEntry] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique(cls, models: list[ModelEntry]) -> list[ModelEntry]:
        seen: dict[str, int] = {}
        for i, entry in enumerate(models):
            key = normalize_name(entry.name)
            if key in seen:
                raise ValueError(f"{entry.name!r} is listed twice (items {seen[key]} and {i})")
            seen[key] = i
        return models


def load_spec(path: Path, *, text: str | None = None) -> MachineSpec:
    """Read and validate a sync file (or ``text`` read from ``path`` already); ``ConfigError``
    names the file, the line and the key."""
    from llmbox.yamlio import load_yaml_model

    return load_yaml_model(path, MachineSpec, text=text, doc="docs/provisioning.md")


@dataclass
class SyncPlan:
    """What a sync will do: pull the missing, keep the present, remove extras (with prune)."""

    file: str
    present: list[str]
    to_pull: list[str]
    to_remove: list[str]
    to_load: list[ModelEntry]

    @property
    def listed(self) -> list[str]:
        """Every model the file lists (present or to pull)."""
        return [*self.present, *self.to_pull]

    @property
    def in_sync(self) -> bool:
        """The disk already matches the file (preloading is not a difference on disk)."""
        return not self.to_pull and not self.to_remove

    def rows(self) -> list[tuple[str, str]]:
        """(model, action) in the order they happen."""
        rows = [(m, "present") for m in self.present]
        rows += [(m, "pull") for m in self.to_pull]
        rows += [(m, "remove") for m in self.to_remove]
        rows += [(e.name, "load") for e in self.to_load]
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "in_sync": self.in_sync,
            "present": list(self.present),
            "pull": list(self.to_pull),
            "remove": list(self.to_remove),
            "load": [{"model": e.name, "keep_alive": e.keep_alive} for e in self.to_load],
        }


def make_plan(
    spec: MachineSpec, installed: Sequence[InstalledModel], *, prune: bool, file: str = ""
) -> SyncPlan:
    """The plan for ``spec`` on a server holding ``installed`` (pure)."""
    names = [m.name for m in installed]
    present = [e.name for e in spec.models if any(same_model(e.name, n) for n in names)]
    to_pull = [e.name for e in spec.models if e.name not in present]
    to_remove = (
        [n for n in names if not any(same_model(e.name, n) for e in spec.models)] if prune else []
    )
    to_load = [e for e in spec.models if e.wants_load]
    return SyncPlan(file, present, to_pull, to_remove, to_load)


def missing_models(listed: Sequence[str], installed: Sequence[str]) -> list[str]:
    """The models of ``listed`` that ``installed`` lacks (pure).

    The prune rule of every sync: removing models starts only when this is empty, so a typo in the
    file or a failed pull never leaves a server with fewer models than the file asks for.

    >>> missing_models(["llama3.2", "nosuch"], ["llama3.2:latest", "old:7b"])
    ['nosuch']
    """
    return [m for m in listed if not any(same_model(m, n) for n in installed)]


async def plan_sync(
    client: OllamaClient, spec: MachineSpec, *, prune: bool, file: str = ""
) -> SyncPlan:
    """Ask the server what it has and plan the sync."""
    return make_plan(spec, await list_models(client), prune=prune, file=file)


@dataclass
class SyncReport:
    """What a sync did. ``missing``: listed models the server lacks afterwards; ``kept``: models
    the prune would have removed but kept, because something listed was missing."""

    plan: SyncPlan
    pulled: list[PullResult] = field(default_factory=list)
    removed: list[ModelChange] = field(default_factory=list)
    loaded: list[ModelChange] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        code = combined_exit_code([*self.pulled, *self.removed, *self.loaded])
        return int(ExitCode.FAILURE) if code == ExitCode.OK and self.missing else code

    @property
    def in_sync(self) -> bool:
        return self.exit_code == ExitCode.OK

    def rows(self) -> list[tuple[str, str, str]]:
        """(model, action, outcome) for every step."""
        rows = [(m, "present", "ok") for m in self.plan.present]
        for r in self.pulled:
            rows.append((r.model, "pull", "ok" if r.ok else f"failed: {r.error}"))
        for c in self.removed:
            rows.append((c.model, "remove", "ok" if c.ok else f"failed: {c.error}"))
        for m in self.kept:
            rows.append((m, "remove", f"skipped: {len(self.missing)} listed model(s) missing"))
        for c in self.loaded:
            where = f" ({c.running.processor})" if c.running is not None else ""
            rows.append((c.model, "load", f"ok{where}" if c.ok else f"failed: {c.error}"))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.plan.file,
            "in_sync": self.in_sync,
            "present": list(self.plan.present),
            "pulled": [r.to_dict() for r in self.pulled],
            "removed": [c.to_dict() for c in self.removed],
            "loaded": [c.to_dict() for c in self.loaded],
            "missing": list(self.missing),
            "kept": list(self.kept),
        }


async def apply_sync(
    client: OllamaClient,
    plan: SyncPlan,
    *,
    retries: int = DEFAULT_RETRIES,
    on_event: EventSink = _ignore,
    sleep: Sleep | None = None,
    backoff_base_s: float = BACKOFF_BASE_S,
    clock: Callable[[], float] = time.monotonic,
) -> SyncReport:
    """Carry out ``plan``: pull, then remove, then preload. A failed pull does not stop the other
    pulls, but it stops the prune: nothing is removed unless every listed model is present after
    the pulls (``missing_models``, asked of the server afresh)."""
    report = SyncReport(plan)
    for model in plan.to_pull:
        result = await pull_model(
            client,
            model,
            retries=retries,
            on_event=on_event,
            sleep=sleep,
            backoff_base_s=backoff_base_s,
            clock=clock,
        )
        report.pulled.append(result)
        if isinstance(result.error, ServerUnreachable):
            raise result.error
    if plan.to_remove or report.pulled:
        installed = [m.name for m in await list_models(client)]
        report.missing = missing_models(plan.listed, installed)
    if plan.to_remove and report.missing:
        report.kept = list(plan.to_remove)
    elif plan.to_remove:
        report.removed = await remove_models(client, plan.to_remove)
    failed = {r.model for r in report.pulled if not r.ok}
    for entry in plan.to_load:
        if entry.name in failed:
            continue
        try:
            report.loaded.append(await load_model(client, entry.name, keep_alive=entry.keep_alive))
        except ServerUnreachable:
            raise
        except LlmboxError as err:
            report.loaded.append(ModelChange(entry.name, "loaded", ok=False, error=err))
    return report
