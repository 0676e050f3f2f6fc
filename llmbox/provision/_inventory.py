"""What a server has and runs: list, ps, show, rm, load, unload. Typed results, no drawing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbox.client import OllamaClient, RunningModel
from llmbox.errors import ExitCode, LlmboxError, ModelNotFound, ServerUnreachable, UsageError
from llmbox.names import check_name, same_model, unique_names
from llmbox.provision._names import keep_alive_seconds
from llmbox.provision._pull import Sleep

#: How long ``unload`` waits for the server to evict a model (eviction is asynchronous).
UNLOAD_WAIT_S = 10.0
UNLOAD_POLL_S = 0.2


@dataclass(frozen=True)
class InstalledModel:
    """A model on disk (``/api/tags``). ``digest`` is 64 hex; ``size`` is bytes."""

    name: str
    digest: str
    size: int
    parameter_size: str
    quantization: str
    family: str
    format: str
    modified_at: str

    @property
    def id(self) -> str:
        """The ID ``ollama list`` shows: the first 12 hex digits of the digest."""
        return self.digest[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "digest": self.digest,
            "size": self.size,
            "parameter_size": self.parameter_size,
            "quantization": self.quantization,
            "family": self.family,
            "format": self.format,
            "modified_at": self.modified_at,
        }


@dataclass(frozen=True)
class RunningInfo:
    """A loaded model (``/api/ps``): ``size`` bytes in memory, ``size_vram`` of them on the GPU."""

    name: str
    digest: str
    size: int
    size_vram: int
    processor: str
    context_length: int | None
    expires_at: str

    @classmethod
    def of(cls, m: RunningModel) -> RunningInfo:
        return cls(
            name=m.name or m.model,
            digest=m.digest,
            size=m.size,
            size_vram=m.size_vram,
            processor=m.processor,
            context_length=m.context_length,
            expires_at=m.expires_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.digest[:12],
            "digest": self.digest,
            "size": self.size,
            "size_vram": self.size_vram,
            "processor": self.processor,
            "context_length": self.context_length,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class ModelFacts:
    """What ``show`` reports about one model; ``None`` where the GGUF metadata lacks the key."""

    name: str
    architecture: str
    parameter_count: int | None
    parameter_size: str
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    head_count: int | list[int] | None
    head_count_kv: int | list[int] | None
    quantization: str
    family: str
    format: str
    capabilities: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "architecture": self.architecture,
            "parameter_count": self.parameter_count,
            "parameter_size": self.parameter_size,
            "context_length": self.context_length,
            "embedding_length": self.embedding_length,
            "block_count": self.block_count,
            "head_count": self.head_count,
            "head_count_kv": self.head_count_kv,
            "quantization": self.quantization,
            "family": self.family,
            "format": self.format,
            "capabilities": list(self.capabilities),
        }


@dataclass
class ModelChange:
    """The outcome of ``rm``/``load``/``unload`` on one model."""

    model: str
    action: str  # "deleted", "loaded", "unloaded"
    ok: bool = True
    unloaded: bool = False  # "deleted": it was unloaded first; "unloaded": it was loaded
    running: RunningInfo | None = None
    error: LlmboxError | None = field(default=None, repr=False)

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK) if self.error is None else int(self.error.exit_code)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"model": self.model, "action": self.action, "ok": self.ok}
        if self.action == "deleted":
            data["unloaded_first"] = self.unloaded
        if self.action == "unloaded":
            data["was_loaded"] = self.unloaded
        if self.running is not None:
            data["running"] = self.running.to_dict()
        if self.error is not None:
            data["error"] = self.error.message
            data["exit_code"] = self.exit_code
        return data


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int_or_list(value: Any) -> int | list[int] | None:
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return [int(v) for v in value]
    return _int_or_none(value)


async def list_models(client: OllamaClient) -> list[InstalledModel]:
    """Installed models, most recently modified first (the server's order)."""
    return [
        InstalledModel(
            name=m.name or m.model,
            digest=m.digest,
            size=m.size,
            parameter_size=m.details.parameter_size,
            quantization=m.details.quantization_level,
            family=m.details.family,
            format=m.details.format,
            modified_at=m.modified_at,
        )
        for m in await client.tags()
    ]


async def running_models(client: OllamaClient) -> list[RunningInfo]:
    """Loaded models, longest remaining time first (the server's order)."""
    return [RunningInfo.of(m) for m in await client.ps()]


async def show_model(client: OllamaClient, model: str) -> ModelFacts:
    """Architecture facts of an installed model (``ModelNotFound`` when it is not installed)."""
    s = await client.show(check_name(model))
    info = s.model_info or {}
    return ModelFacts(
        name=model,
        architecture=str(info.get("general.architecture") or s.details.family),
        parameter_count=s.parameter_count,
        parameter_size=s.details.parameter_size,
        context_length=_int_or_none(s.info("context_length")),
        embedding_length=_int_or_none(s.info("embedding_length")),
        block_count=_int_or_none(s.info("block_count")),
        head_count=_int_or_list(s.info("attention.head_count")),
        head_count_kv=_int_or_list(s.info("attention.head_count_kv")),
        quantization=s.details.quantization_level,
        family=s.details.family,
        format=s.details.format,
        capabilities=list(s.capabilities or []),
    )


async def remove_models(client: OllamaClient, models: Sequence[str]) -> list[ModelChange]:
    """Delete each model, unloading it first when it is loaded; a failure does not stop the rest."""
    for model in models:
        check_name(model)
    models = unique_names(models)
    loaded = [m.name or m.model for m in await client.ps()]
    results: list[ModelChange] = []
    for model in models:
        change = ModelChange(model, "deleted")
        try:
            if any(same_model(name, model) for name in loaded):
                await client.unload(model)
                change.unloaded = True
            await client.delete(model)
        except ServerUnreachable:
            raise
        except ModelNotFound as err:
            change.ok, change.error = False, _not_installed(err, "llmbox list")
        except LlmboxError as err:
            change.ok, change.error = False, err
        results.append(change)
    return results


def _not_installed(err: ModelNotFound, listing: str) -> ModelNotFound:
    """The server's "not found", with a hint that fits a command that needs no download."""
    return ModelNotFound(
        err.model, message=err.message, hint=f"{listing} shows the installed models"
    )


async def _find_running(client: OllamaClient, model: str) -> RunningInfo | None:
    running = await client.ps()
    return next((RunningInfo.of(m) for m in running if same_model(m.name or m.model, model)), None)


async def load_model(
    client: OllamaClient, model: str, *, keep_alive: str | float | None = None
) -> ModelChange:
    """Load ``model`` into memory and report where it landed (CPU/GPU) and until when.

    ``running`` is ``None`` when the model is not resident any more (a keep-alive that ran out).
    """
    check_name(model)
    if keep_alive is not None and keep_alive_seconds(keep_alive) == 0:
        raise UsageError(
            "keep-alive 0 unloads the model at once: nothing would stay loaded",
            hint=f"llmbox unload {model} unloads it; to keep it loaded: --keep-alive 30m or -1",
        )
    await client.load(model, keep_alive=keep_alive)
    return ModelChange(model, "loaded", running=await _find_running(client, model))


async def unload_model(
    client: OllamaClient,
    model: str,
    *,
    wait_s: float = UNLOAD_WAIT_S,
    poll_s: float = UNLOAD_POLL_S,
    sleep: Sleep = asyncio.sleep,
) -> ModelChange:
    """Unload ``model`` and wait up to ``wait_s`` until ``/api/ps`` no longer lists it.

    ``running`` is still set when it is listed after the wait (the server is still evicting it).
    """
    was_loaded = await _find_running(client, check_name(model)) is not None
    try:
        await client.unload(model)
    except ModelNotFound as err:
        raise _not_installed(err, "llmbox list") from None
    waited = 0.0
    while (running := await _find_running(client, model)) is not None and waited < wait_s:
        await sleep(poll_s)
        waited += poll_s
    return ModelChange(model, "unloaded", unloaded=was_loaded, running=running)
