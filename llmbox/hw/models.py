"""What the estimator needs to know about a model, from the first source that applies.

1. the catalog ``configs/models.yaml`` of common Ollama tags;
2. ``/api/show`` of a running Ollama (:func:`from_show`);
3. a local GGUF file, read with the ``gguf`` package (:func:`from_gguf`, imported lazily);
4. explicit ``--params 7b --quant q4_k_m`` (:func:`from_params`, with a generic shape).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.errors import UsageError
from llmbox.hw.quant import QUANTS, lookup, parse_params

if TYPE_CHECKING:
    from llmbox.client import ShowResponse

SCHEMA = "llmbox.models/1"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: Weights of the language model (for MoE: every expert).
    params: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    context_length: int
    quant: str
    #: MoE: parameters read per token (shared weights + the experts used). None = dense.
    active_params: float | None = None
    #: Exact bytes of the language model's weights (a GGUF file, Ollama's size), if known.
    weights_bytes: float | None = None
    #: Layers that keep a KV cache (mllama's cross-attention layers do not).
    kv_layers: int | None = None
    #: Vision encoder + projector: parameters, their quant, and tokens it encodes per image.
    vision_params: float = 0.0
    vision_quant: str = "F16"
    vision_tokens_per_image: int = 0
    #: Vision encoder shape, for the image buffers the runner reserves (Ollama sizes mllama's
    #: for ``vision_max_tiles`` tiles of ``vision_tokens_per_image`` patches each).
    vision_max_tiles: int = 1
    vision_hidden: int = 1280
    vision_heads: int = 16
    #: Layers that cross-attend to the image (mllama): their cache holds image tokens, in F32.
    cross_attention_layers: int = 0
    #: Vocabulary size: sizes the output layer (kept apart from the repeating layers).
    vocab: int | None = None
    #: Sliding-window attention: ``swa_layers`` layers keep only the last ``sliding_window``
    #: tokens in their KV cache (gemma3: 5 of 6 layers, 1024 tokens; gpt-oss: half, 128).
    sliding_window: int | None = None
    swa_layers: int = 0
    #: MoE: the quantization of the expert weights when it differs from ``quant`` (gpt-oss:
    #: MXFP4 experts, the rest at Q8_0/F16), and the share of ``params`` that are experts.
    expert_quant: str | None = None
    expert_share: float | None = None
    #: GGUF ``general.architecture`` (llama, mllama, qwen2, gemma3, gptoss …): runners pick
    #: their engine and attention defaults by it. None = a llama-like architecture.
    arch: str | None = None
    source: str = "catalog"
    note: str | None = None

    @property
    def active(self) -> float:
        return self.active_params or self.params

    @property
    def bits_per_weight(self) -> float:
        if self.weights_bytes:
            return self.weights_bytes * 8 / self.params
        return lookup(self.quant).bits_per_weight

    @property
    def weight_bytes(self) -> float:
        """Bytes of the language model's weights in memory."""
        if self.weights_bytes:
            return self.weights_bytes
        if self.expert_quant and self.expert_share:
            experts = self.params * self.expert_share
            return (
                experts * lookup(self.expert_quant).bits_per_weight
                + (self.params - experts) * lookup(self.quant).bits_per_weight
            ) / 8
        return self.params * lookup(self.quant).bits_per_weight / 8

    @property
    def active_weight_bytes(self) -> float:
        """Bytes of weights read to generate one token: for a MoE, the shared weights plus the
        experts used, each at its own quantization."""
        if self.active_params is None:
            return self.weight_bytes
        if self.expert_quant and self.expert_share:
            experts = self.params * self.expert_share
            shared = self.params - experts
            used = max(0.0, self.active - shared)
            scale = self.weight_bytes / self._nominal_bytes()
            streamed = (
                scale
                * (
                    shared * lookup(self.quant).bits_per_weight
                    + used * lookup(self.expert_quant).bits_per_weight
                )
                / 8
            )
            return streamed - self.embedding_bytes  # the embedding table is looked up, not read
        return self.weight_bytes * self.active / self.params

    def _nominal_bytes(self) -> float:
        if not (self.expert_quant and self.expert_share):
            return self.params * lookup(self.quant).bits_per_weight / 8
        experts = self.params * self.expert_share
        return (
            experts * lookup(self.expert_quant).bits_per_weight
            + (self.params - experts) * lookup(self.quant).bits_per_weight
        ) / 8

    @property
    def output_bytes(self) -> float:
        """The output projection (vocab x hidden; Q6_K in K-quant files, as llama.cpp writes
        it), which runners place after the repeating layers."""
        if not self.vocab:
            return 0.0
        bits = lookup(self.quant).bits_per_weight
        out_bits = bits if bits >= 6.5 else 6.5625
        return min(self.vocab * self.hidden * out_bits / 8, 0.25 * self.weight_bytes)

    @property
    def embedding_bytes(self) -> float:
        """The token embedding table: looked up, not streamed, and kept in CPU memory."""
        if not self.vocab:
            return 0.0
        return min(
            self.vocab * self.hidden * lookup(self.quant).bits_per_weight / 8,
            0.25 * self.weight_bytes,
        )

    @property
    def layer_bytes(self) -> float:
        """Weights of one repeating layer."""
        return max(0.0, self.weight_bytes - self.output_bytes - self.embedding_bytes) / self.layers

    @property
    def vision_bytes(self) -> float:
        return self.vision_params * lookup(self.vision_quant).bits_per_weight / 8

    @property
    def self_attention_layers(self) -> int:
        return self.kv_layers if self.kv_layers is not None else self.layers

    @property
    def kv_bytes_per_token(self) -> float:
        """KV cache bytes per token of context at F16 (K and V, every KV layer)."""
        return self.kv_layer_bytes_per_token * self.self_attention_layers

    @property
    def kv_layer_bytes_per_token(self) -> float:
        """KV cache bytes per token of one layer at F16."""
        return 2 * self.kv_heads * self.head_dim * 2

    def kv_tokens_held(self, tokens: float) -> float:
        """Layer-tokens of KV cache held (summed over layers) when ``tokens`` are in context:
        sliding-window layers hold at most their window."""
        swa = min(self.swa_layers, self.self_attention_layers) if self.sliding_window else 0
        full = self.self_attention_layers - swa
        window = self.sliding_window or 0
        return full * tokens + swa * min(tokens, window)

    @property
    def image_kv_bytes(self) -> float:
        """Cross-attention cache of one image (mllama): F32 K and V of every tile's patches in
        each cross-attention layer, as Ollama sizes it."""
        tokens = self.vision_tokens_per_image * self.vision_max_tiles
        return self.cross_attention_layers * self.kv_heads * self.head_dim * 2 * 4 * tokens

    @property
    def multimodal(self) -> bool:
        return self.vision_params > 0


@dataclass
class ModelCatalog:
    path: Path
    models: dict[str, ModelSpec]
    aliases: dict[str, str]

    def get(self, name: str) -> ModelSpec | None:
        key = name.strip().lower()
        key = self.aliases.get(key, key)
        if key in self.models:
            return self.models[key]
        if key.endswith(":latest"):
            return self.get(key.removesuffix(":latest"))
        return None

    def resolve(self, name: str) -> ModelSpec:
        spec = self.get(name)
        if spec is not None:
            return spec
        from difflib import get_close_matches

        close = get_close_matches(name.lower(), [*self.models, *self.aliases], n=4, cutoff=0.5)
        lead = f"did you mean {', '.join(close)}? " if close else ""
        raise UsageError(
            f"model {name!r} is not in the catalog",
            hint=lead + "give --from-server (a running Ollama), --gguf FILE, or --params 7b "
            "--quant q4_k_m; `llmbox hw-estimate --list-models` shows the catalog",
        )


def _schema() -> Any:
    from llmbox.hw._schema import ModelsFile

    return ModelsFile


def parse_models(data: Any, path: Path, text: str) -> ModelCatalog:
    """Validate the loaded YAML of a model catalog (pydantic, ``extra="forbid"``) and build it."""
    from llmbox.hw._schema import ModelsFile
    from llmbox.yamlio import _validate

    model = _validate(path, text, data, ModelsFile, "docs/hw-estimate.md")
    return build_models(model.model_dump(mode="json", by_alias=True), path)


def build_models(data: dict[str, Any], path: Path) -> ModelCatalog:
    """The catalog from data the schema (``llmbox.hw._schema.ModelsFile``) has validated."""
    models: dict[str, ModelSpec] = {}
    aliases: dict[str, str] = {}
    for tag, raw in data["models"].items():
        entry = dict(raw)
        for alias in entry.pop("aliases"):
            aliases[alias.lower()] = tag.lower()
        if entry["head_dim"] is None:
            entry["head_dim"] = entry["hidden"] // entry["heads"]
        models[tag.lower()] = ModelSpec(name=tag, **entry)
    return ModelCatalog(path=path, models=models, aliases=aliases)


def load_models(path: Path | None = None) -> ModelCatalog:
    from llmbox.hw.chips import schema_version
    from llmbox.yamlio import read_validated

    if path is None:
        from llmbox.config import configs_dir

        path = configs_dir() / "models.yaml"
    data, _ = read_validated(path, _schema, version=schema_version(), doc="docs/hw-estimate.md")
    return build_models(data, path)


# --- other sources ------------------------------------------------------------------------------


def generic_shape(params: float) -> tuple[int, int, int, int, int]:
    """(layers, hidden, heads, kv_heads, head_dim) of a typical dense GQA transformer this size.

    Layers grow slowly with size; the hidden size follows from params ≈ 12·layers·hidden²; a
    quarter as many KV heads as query heads (grouped-query attention).

    >>> generic_shape(8e9)
    (32, 4608, 36, 9, 128)
    """
    layers = max(8, min(96, round(8 * math.log2(params / 1e9 + 1) + 6.6)))
    hidden = math.sqrt(params / (12 * layers))
    hidden_r = max(512, int(round(hidden / 256) * 256))
    head_dim = 128 if hidden_r >= 2048 else 64
    heads = max(1, hidden_r // head_dim)
    kv_heads = max(1, heads // 4)
    return layers, hidden_r, heads, kv_heads, head_dim


def from_params(params: str | float, quant: str, *, context_length: int = 131072) -> ModelSpec:
    """A model known only by size and quantization (shape guessed by :func:`generic_shape`)."""
    count = parse_params(params) if isinstance(params, str) else float(params)
    if count <= 0:
        raise UsageError("--params must be positive", hint="e.g. --params 7b")
    q = lookup(quant)
    layers, hidden, heads, kv_heads, head_dim = generic_shape(count)
    return ModelSpec(
        name=f"{count / 1e9:g}B {q.name}",
        params=count,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        context_length=context_length,
        quant=q.name,
        source="--params",
        note="layer count and KV heads guessed from the size (a typical GQA transformer)",
    )


def _quant_from_size(params: float, size_bytes: float) -> str:
    bpw = size_bytes * 8 / params
    return min(QUANTS, key=lambda q: abs(QUANTS[q].bits_per_weight - bpw))


def from_show(name: str, show: ShowResponse, *, size_bytes: int | None = None) -> ModelSpec:
    """A model described by Ollama's ``/api/show`` (``model_info`` holds the GGUF metadata)."""

    def num(field: str) -> float | None:
        value = show.info(field)
        if isinstance(value, list):  # per-layer arrays (e.g. head_count_kv of some models)
            value = max((v for v in value if isinstance(v, (int, float))), default=None)
        return float(value) if isinstance(value, (int, float)) else None

    params = show.parameter_count
    if not params and show.details.parameter_size:
        params = int(parse_params(show.details.parameter_size))
    layers, hidden = num("block_count"), num("embedding_length")
    if not params or not layers or not hidden:
        raise UsageError(
            f"the server's description of {name!r} lacks the parameter count or layer count",
            hint="use --params and --quant instead",
        )
    heads = num("attention.head_count") or max(1.0, hidden // 128)
    kv_heads = num("attention.head_count_kv") or heads
    head_dim = num("attention.key_length") or hidden // heads
    quant = show.details.quantization_level or (
        _quant_from_size(params, size_bytes) if size_bytes else "Q4_K_M"
    )
    try:
        quant = lookup(quant).name
    except UsageError:
        quant = _quant_from_size(params, size_bytes) if size_bytes else "Q4_K_M"
    active = None
    experts, used = num("expert_count"), num("expert_used_count")
    if experts and used and experts > used:
        ff = num("expert_feed_forward_length") or num("feed_forward_length") or 4 * hidden
        per_expert = 3 * hidden * ff * layers
        active = params - per_expert * (experts - used)
        if active <= 0:
            active = None
    vision = 0.0
    if show.capabilities and "vision" in show.capabilities:
        vision = 0.4e9  # Ollama does not report the projector's size in model_info
    return ModelSpec(
        name=name,
        params=float(params),
        active_params=active,
        layers=int(layers),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=int(kv_heads),
        head_dim=int(head_dim),
        context_length=int(num("context_length") or 4096),
        quant=quant,
        vision_params=vision,
        vision_tokens_per_image=576 if vision else 0,
        arch=str((show.model_info or {}).get("general.architecture") or "") or None,
        source="server",
    )


def from_gguf(path: Path) -> ModelSpec:
    """A model described by a local GGUF file: exact weight bytes from its tensors."""
    if not path.is_file():
        raise UsageError(f"no such GGUF file: {path}", hint="check the path")
    try:
        from gguf import GGUFReader
    except ImportError:
        raise UsageError(
            "reading GGUF files needs the gguf package", hint="pip install 'llmbox[gguf]'"
        ) from None
    try:
        reader = GGUFReader(str(path))
    except Exception as err:
        raise UsageError(f"cannot read {path} as GGUF: {err}", hint="is it a .gguf file?") from None

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        if f is None or not f.data:
            return None
        value = f.parts[f.data[0]]
        if f.types and f.types[0].name == "STRING":
            return bytes(value).decode("utf-8", "replace")
        return value.tolist()[0] if hasattr(value, "tolist") else value

    arch = field("general.architecture") or "llama"
    params = 0
    weight_bytes = 0
    type_bytes: dict[str, int] = {}
    for tensor in reader.tensors:
        params += int(tensor.n_elements)
        weight_bytes += int(tensor.n_bytes)
        key = tensor.tensor_type.name
        type_bytes[key] = type_bytes.get(key, 0) + int(tensor.n_bytes)
    layers = field(f"{arch}.block_count")
    hidden = field(f"{arch}.embedding_length")
    if not params or not layers or not hidden:
        raise UsageError(f"{path} lacks block_count or embedding_length", hint="use --params")
    heads = field(f"{arch}.attention.head_count") or max(1, hidden // 128)
    kv_heads = field(f"{arch}.attention.head_count_kv") or heads
    head_dim = field(f"{arch}.attention.key_length") or hidden // heads
    main_type = max(type_bytes, key=lambda k: type_bytes[k])
    try:
        quant = lookup(main_type).name
    except UsageError:
        quant = _quant_from_size(params, weight_bytes)
    active = None
    experts, used = field(f"{arch}.expert_count"), field(f"{arch}.expert_used_count")
    if experts and used and experts > used:
        expert_bytes = sum(int(t.n_bytes) for t in reader.tensors if "_exps" in t.name)
        expert_params = sum(int(t.n_elements) for t in reader.tensors if "_exps" in t.name)
        active = params - expert_params * (experts - used) / experts
        del expert_bytes
    return ModelSpec(
        name=path.name,
        params=float(params),
        active_params=active,
        layers=int(layers),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=int(kv_heads),
        head_dim=int(head_dim),
        context_length=int(field(f"{arch}.context_length") or 4096),
        quant=quant,
        weights_bytes=float(weight_bytes),
        arch=str(arch),
        source=f"gguf:{path}",
    )


def with_quant(spec: ModelSpec, quant: str | None) -> ModelSpec:
    """``spec`` at another quantization (``--quant`` on a catalog model)."""
    if not quant:
        return spec
    return replace(spec, quant=lookup(quant).name, weights_bytes=None)
