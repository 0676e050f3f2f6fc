"""Pydantic models of Ollama's non-streamed responses (``/api/tags``, ``/api/ps``, ``/api/show``).

Fields follow Ollama's JSON names; anything Ollama omits when empty has a default. Durations stay in
nanoseconds wherever Ollama reports them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    # Servers add fields over time; unknown ones are kept, never fatal.
    model_config = ConfigDict(extra="allow")


class ModelDetails(_Lenient):
    parent_model: str = ""
    format: str = ""
    family: str = ""
    families: list[str] | None = None
    parameter_size: str = ""
    quantization_level: str = ""
    context_length: int | None = None
    embedding_length: int | None = None


class ModelSummary(_Lenient):
    """An entry of ``/api/tags``: an installed model."""

    name: str = ""
    model: str = ""
    modified_at: str = ""
    size: int = 0
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: list[str] | None = None


class RunningModel(_Lenient):
    """An entry of ``/api/ps``: a loaded model. ``size_vram < size`` means part runs on the CPU."""

    name: str = ""
    model: str = ""
    size: int = 0
    size_vram: int = 0
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: str = ""
    context_length: int | None = None

    @property
    def processor(self) -> str:
        """What ``ollama ps`` shows: ``100% GPU``, ``100% CPU`` or ``7%/93% CPU/GPU``."""
        return processor_label(self.size, self.size_vram)


def processor_label(size: int, size_vram: int) -> str:
    """``ollama ps``'s PROCESSOR column.

    >>> processor_label(100, 93)
    '7%/93% CPU/GPU'
    """
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size_vram > size or size == 0:
        return "Unknown"
    cpu = round((size - size_vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


class ShowResponse(_Lenient):
    """``/api/show``. ``model_info`` holds the GGUF metadata keyed ``<arch>.<field>``."""

    license: str = ""
    modelfile: str = ""
    parameters: str = ""
    template: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    model_info: dict[str, Any] | None = None
    capabilities: list[str] | None = None
    modified_at: str = ""

    def info(self, field: str) -> Any:
        """``model_info["<arch>.<field>"]``, or None."""
        mi = self.model_info or {}
        arch = mi.get("general.architecture", "")
        return mi.get(f"{arch}.{field}")

    @property
    def parameter_count(self) -> int | None:
        value = (self.model_info or {}).get("general.parameter_count")
        return int(value) if isinstance(value, (int, float)) else None


class PullProgress(_Lenient):
    """One line of ``/api/pull``; ``total``/``completed`` are bytes, absent (0) until known."""

    status: str = ""
    digest: str = ""
    total: int = 0
    completed: int = 0
