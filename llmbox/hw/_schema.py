"""pydantic models of ``configs/chips.yaml`` and ``configs/models.yaml`` (``extra="forbid"``).

Imported only when a catalog's text is new (:func:`llmbox.yamlio.read_validated` caches the
validated data), so an estimate from a known catalog pays neither for YAML nor for pydantic.
What a field *means* lives on the dataclasses in ``chips.py`` and ``models.py``; these models say
what a file may hold. Cross-references (a chip's family, a family's offload host, duplicate ids)
are checked by the parsers, which name the line of the entry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from llmbox.errors import UsageError

NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Share = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Factor = Annotated[float, Field(gt=0, le=2, allow_inf_nan=False)]
Count = Annotated[int, Field(gt=0)]
Size = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- chips.yaml ---------------------------------------------------------------------------------


class FamilyEntry(_Entry):
    backend: Text
    compute: Literal["fp16", "fp32", "sm"] = "fp16"
    decode_bw_eff: NonNeg = 0.8
    decode_layer_ms: NonNeg = 0.05
    prefill_eff: NonNeg = 0.5
    cpu_bw_share: NonNeg = 0.5
    cpu_tflops: NonNeg = 0.5
    offload_host: Text | None = None
    prefill_attn_cost: NonNeg = 1.0
    decode_kv_cost: NonNeg = 1.0
    decode_kv_cost_fa: NonNeg = 1.0
    fitted_on: str = "prior"


class AppleGpuMemoryEntry(_Entry):
    steps: list[tuple[Positive, Share]] = Field(default_factory=list)
    source: str | None = None


class FactorsEntry(_Entry):
    """Speed factors per family: a runner's against llama-bench, an era's against today's."""

    decode: dict[str, Factor] = Field(default_factory=dict)
    prefill: dict[str, Factor] = Field(default_factory=dict)
    fitted_on: str = "prior"
    note: str | None = None


class EraEntry(FactorsEntry):
    #: The compute figure a family's prefill ran on in that era, where it differs from the
    #: family's own (``fp16`` or ``fp32``).
    compute: dict[str, Literal["fp16", "fp32", "sm"]] = Field(default_factory=dict)
    #: A fixed prefill cost per layer per 512-token batch (ms), per family.
    prefill_layer_ms: dict[str, NonNeg] = Field(default_factory=dict)


class RunnerEntry(FactorsEntry):
    only: list[Text] = Field(default_factory=list)
    tensor_parallel: bool = False


class ArchitectureEntry(_Entry):
    chips: list[Text] = Field(default_factory=list)
    fp32_lanes_per_sm: Count | None = None
    prefill_tflops_per_w: NonNeg | None = None
    fitted_on: str = "prior"
    note: str | None = None


class BandEntry(_Entry):
    decode: tuple[NonNeg, NonNeg] = (1.0, 1.0)
    prefill: tuple[NonNeg, NonNeg] = (1.0, 1.0)
    rows: Size = 0


class ChipEntry(_Entry):
    id: Text
    name: Text
    vendor: Annotated[Text, AfterValidator(str.lower)]
    kind: Literal["soc", "dgpu", "cpu"]
    family: Text
    memory_gb: Annotated[list[Positive], Field(min_length=1)]
    bw_gbs: Positive
    fp16_tflops: NonNeg | None = None
    fp32_tflops: NonNeg | None = None
    int8_tops: NonNeg | None = None
    gpu_cores: Size | None = None
    cpu_cores: Size | None = None
    board_power_w: NonNeg | None = None
    launch_price_usd: NonNeg | None = None
    gpu_mem_share: Share | None = None
    aliases: list[Text] = Field(default_factory=list)
    segment: Text | None = None
    confidence: Literal["sourced", "derived", "uncertain"] = "sourced"
    source: list[Text] = Field(default_factory=list)
    note: str | None = None


class ChipsFile(_Entry):
    schema_: Literal["llmbox.chips/1"] = Field(alias="schema")
    apple_gpu_memory: AppleGpuMemoryEntry | None = None
    families: Annotated[dict[str, FamilyEntry], Field(min_length=1)]
    runners: dict[str, RunnerEntry] = Field(default_factory=dict)
    llama_cpp_eras: dict[str, EraEntry] = Field(default_factory=dict)
    architectures: dict[str, ArchitectureEntry] = Field(default_factory=dict)
    bands: dict[str, dict[str, BandEntry]] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict)
    chips: Annotated[list[ChipEntry], Field(min_length=1)]


# --- models.yaml --------------------------------------------------------------------------------


def _params(value: Any) -> Any:
    """``6.74b``, ``135m``, ``7e9`` or a number, as a count; anything else is for pydantic."""
    if isinstance(value, str):
        from llmbox.hw.quant import parse_params

        try:
            return parse_params(value)
        except UsageError as err:
            raise ValueError(err.message) from None
    return value


def _quant(value: str) -> str:
    from llmbox.hw.quant import lookup

    try:
        lookup(value)
    except UsageError as err:
        raise ValueError(err.message) from None
    return value


Params = Annotated[float, BeforeValidator(_params), Field(gt=0, allow_inf_nan=False)]
Quant = Annotated[str, AfterValidator(_quant)]


class ModelEntry(_Entry):
    aliases: list[Text] = Field(default_factory=list)
    params: Params
    active_params: Params | None = None
    weights_bytes: Params | None = None
    layers: Count
    hidden: Count
    heads: Count
    kv_heads: Count
    head_dim: Count | None = None
    context_length: Count
    quant: Quant
    kv_layers: Size | None = None
    vision_params: Annotated[float, BeforeValidator(_params), Field(ge=0)] = 0.0
    vision_quant: Quant = "F16"
    vision_tokens_per_image: Size = 0
    vision_max_tiles: Count = 1
    vision_hidden: Count = 1280
    vision_heads: Count = 16
    cross_attention_layers: Size = 0
    vocab: Count | None = None
    sliding_window: Count | None = None
    swa_layers: Size = 0
    expert_quant: Quant | None = None
    expert_share: Share | None = None
    arch: Text | None = None
    source: str = "catalog"
    note: str | None = None


class ModelsFile(_Entry):
    schema_: Literal["llmbox.models/1"] = Field(alias="schema")
    models: Annotated[dict[str, ModelEntry], Field(min_length=1)]
    sources: dict[str, str] = Field(default_factory=dict)
