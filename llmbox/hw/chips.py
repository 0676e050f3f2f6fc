"""The chip catalog (``configs/chips.yaml``): lookup by the names users type, and this machine.

The YAML is validated by the pydantic models of ``llmbox.hw._schema`` (``extra="forbid"``)
through :func:`llmbox.yamlio.read_validated`, which caches the validated data as JSON: a known
catalog costs neither the YAML parser nor pydantic's import. A bad file raises
:class:`~llmbox.errors.ConfigError` naming the file, the line and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmbox.errors import ConfigError, UsageError

SCHEMA = "llmbox.chips/1"
#: What llama.cpp's CPU backend pulls per core from memory while decoding (GB/s). A few cores
#: cannot saturate a many-channel memory system; used to describe this machine.
PER_CORE_BW_GBS = 10.0
#: Peak FP32 FLOP per cycle per core: two 256-bit FMA units (AVX2) or 512-bit (AVX-512).
FLOP_PER_CYCLE = {"avx512": 64, "avx2": 32, "neon": 32, "scalar": 8}
#: FP32 lanes per SM the ``sm`` compute figure is expressed in.
SM_LANES = 128


@dataclass(frozen=True)
class Family:
    """How one backend uses one kind of chip: the efficiency factors of the estimator."""

    name: str
    backend: str
    #: Which catalog figure ``prefill_eff`` multiplies (``fp16`` or ``fp32`` TFLOPS).
    compute: str = "fp16"
    #: Share of peak memory bandwidth reached while streaming weights during decode.
    decode_bw_eff: float = 0.8
    #: Fixed time per layer per generated token (ms): kernel launches, synchronisation.
    decode_layer_ms: float = 0.05
    #: Share of the compute figure reached by prompt processing with F16 weights.
    prefill_eff: float = 0.5
    #: (SoC) share of the memory bandwidth the CPU cores alone reach, for layers left on the CPU.
    cpu_bw_share: float = 0.5
    #: (SoC) TFLOPS of the CPU cores, for prompt processing of layers left on the CPU.
    cpu_tflops: float = 0.5
    #: (discrete GPU) the catalog CPU that runs layers that do not fit in VRAM.
    offload_host: str | None = None
    #: Attention work is dearer than matrix work: prefill counts its attention FLOPs this many
    #: times (quadratic in the prompt), decode reads the KV cache at this many times its bytes.
    #: Fitted on long-context rows (llama-bench pp4096/pp8192, tg4096/tg8192), which ran without
    #: flash attention (llama-bench's default).
    prefill_attn_cost: float = 1.0
    decode_kv_cost: float = 1.0
    #: The same with flash attention: one fused kernel reads each K and V block once for all the
    #: query heads that share it, where the unfused path (KQ, softmax, KQV as separate matrix
    #: products) re-reads them per query head and round-trips the scores through memory. A prior
    #: (no published long-answer rows with flash attention yet): the bytes, read once.
    decode_kv_cost_fa: float = 1.0
    fitted_on: str = "prior"


_GROUPS = {
    "apple-metal": "apple",
    "nvidia-geforce": "geforce",
    "nvidia-pascal": "geforce",
    "nvidia-datacenter": "datacenter",
    "nvidia-soc": "nvidia-soc",
    "amd-rocm": "amd",
    "intel-arc": "intel",
    "cpu": "cpu",
}


@dataclass(frozen=True)
class Band:
    """p10 and p90 of measured / predicted on the validation rows not fitted on (leave one chip
    out), for one report group and runner: the spread an estimate should be read with."""

    decode: tuple[float, float] = (1.0, 1.0)
    prefill: tuple[float, float] = (1.0, 1.0)
    rows: int = 0


@dataclass(frozen=True)
class Chip:
    id: str
    name: str
    vendor: str
    kind: str
    family: str
    memory_gb: tuple[float, ...]
    bw_gbs: float
    fp16_tflops: float | None = None
    fp32_tflops: float | None = None
    #: Dense INT8 tensor TOPS, where the chip has int8 matrix units (llama.cpp's MMQ uses them).
    int8_tops: float | None = None
    gpu_cores: int | None = None
    cpu_cores: int | None = None
    #: Board power (W: TDP/TGP of a card, package power of an SoC or CPU) and launch price
    #: (USD, the vendor's list price at launch; for a Mac the cheapest machine with the chip).
    board_power_w: float | None = None
    launch_price_usd: float | None = None
    #: Share of memory the GPU may use; None for Apple (the catalog's rule by memory size).
    gpu_mem_share: float | None = None
    aliases: tuple[str, ...] = ()
    #: The group the validation report counts it in (apple, geforce, workstation, datacenter,
    #: amd, intel, cpu, nvidia-soc); None = derived from the family.
    segment: str | None = None
    confidence: str = "sourced"
    source: tuple[str, ...] = ()
    note: str | None = None
    #: FP32 lanes per streaming multiprocessor, from the chip's architecture (not a chip row's
    #: field): GA100 and GV100 have 64, GH100 and the GeForce dies since Ampere 128.
    fp32_lanes_per_sm: int = SM_LANES

    @property
    def unified(self) -> bool:
        return self.kind in ("soc", "cpu")

    @property
    def group(self) -> str:
        """The validation report's family: ``segment``, else one derived from ``family``."""
        if self.segment:
            return self.segment
        return _GROUPS.get(self.family, self.family)

    def compute_tflops(self, which: str) -> float | None:
        """The compute figure ``which``: ``fp16``, ``fp32``, or ``sm`` — the FP32 rate the
        chip's SM count and clock would give with 128 lanes per SM (llama.cpp's CUDA matrix
        kernels track SMs x clock, not the FP32 lanes, which GH100 doubled over GA100)."""
        if which == "sm":
            if self.fp32_tflops is None:
                return None
            return self.fp32_tflops * SM_LANES / self.fp32_lanes_per_sm
        return self.fp32_tflops if which == "fp32" else self.fp16_tflops


@dataclass(frozen=True)
class AppleGpuMemory:
    """Metal's ``recommendedMaxWorkingSetSize`` as a share of unified memory, by memory size:
    ``steps`` are (up to this many GB, share) pairs, the first that covers the size applies."""

    steps: tuple[tuple[float, float], ...] = ((32, 2 / 3), (96, 0.75), (1e9, 0.84))


@dataclass(frozen=True)
class Factors:
    """Decode and prefill speed factors per chip family (``default`` for the others)."""

    name: str
    decode: dict[str, float] = field(default_factory=dict)
    prefill: dict[str, float] = field(default_factory=dict)
    fitted_on: str = "prior"

    def factor(self, metric: str, family: str) -> float:
        table = self.decode if metric == "decode" else self.prefill
        return table.get(family, table.get("default", 1.0))


@dataclass(frozen=True)
class Runner(Factors):
    """How much of llama-bench's speed one serving runner reaches, per chip family."""

    #: Families the runner runs on (empty = all).
    only: tuple[str, ...] = ()
    #: Splits tensors across GPUs (``--gpus N`` speeds decode up) rather than layers.
    tensor_parallel: bool = False


#: The llama.cpp build era the family factors describe (the 2025 scoreboards and later).
CURRENT_ERA = "2025"


@dataclass(frozen=True)
class Era(Factors):
    """An older llama.cpp build era: its speed against the current era's, per chip family
    (llama.cpp's kernels, CUDA prefill above all, got much faster between releases)."""

    #: What the era covers (dates, builds).
    note: str = ""
    #: The compute figure (``fp16``/``fp32``) a family's prefill tracked in this era, where it
    #: is not the family's own: 2023's CUDA prefill ran FP16 cuBLAS on the tensor cores.
    compute: dict[str, str] = field(default_factory=dict)
    #: A fixed prefill cost per layer per 512-token batch (ms), per family: the 2023 CUDA
    #: backend's per-op host overhead (a synchronisation per op, no CUDA graphs).
    prefill_layer_ms: dict[str, float] = field(default_factory=dict)

    def layer_ms(self, family: str) -> float:
        return self.prefill_layer_ms.get(family, self.prefill_layer_ms.get("default", 0.0))


@dataclass(frozen=True)
class Architecture:
    """A GPU architecture (a die generation): the chips built on it and the prompt-processing
    work it does per joule. Prefill on a big die at a modest board power is limited by power,
    not by its TFLOPS: the rate is ``min(TFLOPS x prefill_eff, board_power_w x this)``."""

    name: str
    chips: tuple[str, ...] = ()
    #: FP32 lanes per SM (the ``sm`` compute figure); None = 128.
    fp32_lanes_per_sm: int | None = None
    #: Effective prefill TFLOPS per board watt (current llama.cpp); None = no cap known.
    prefill_tflops_per_w: float | None = None
    fitted_on: str = "prior"
    note: str = ""


@dataclass
class Catalog:
    path: Path
    chips: dict[str, Chip]
    families: dict[str, Family]
    sources: dict[str, str] = field(default_factory=dict)
    apple_gpu_memory: AppleGpuMemory = field(default_factory=AppleGpuMemory)
    runners: dict[str, Runner] = field(default_factory=dict)
    #: Older llama.cpp build eras (``CURRENT_ERA`` is the reference, factor 1).
    eras: dict[str, Era] = field(default_factory=dict)
    #: (group, runner) -> Band; "*" matches any group or runner.
    bands: dict[tuple[str, str], Band] = field(default_factory=dict)
    #: GPU architectures and the chips on them (the prefill power cap).
    architectures: dict[str, Architecture] = field(default_factory=dict)
    _index: dict[str, str] = field(default_factory=dict)
    _arch: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for chip in self.chips.values():
            for name in (chip.id, chip.name, *chip.aliases):
                self._index.setdefault(normalize(name), chip.id)
        self._arch = {c: a.name for a in self.architectures.values() for c in a.chips}

    def architecture(self, chip: Chip) -> Architecture | None:
        """The architecture ``chip`` is built on, if the catalog says."""
        name = self._arch.get(chip.id)
        return self.architectures.get(name) if name else None

    def family(self, chip: Chip) -> Family:
        return self.families[chip.family]

    def band(self, chip: Chip, runner: str) -> Band | None:
        """The uncertainty band of estimates for this chip's group and runner, if validated."""
        for key in ((chip.group, runner), (chip.group, "*"), ("*", runner), ("*", "*")):
            if key in self.bands:
                return self.bands[key]
        return None

    def gpu_share(self, chip: Chip, memory_gb: float) -> float:
        """Share of ``memory_gb`` the GPU may use (1.0 for discrete GPUs and CPUs)."""
        if chip.kind == "soc" and chip.vendor == "apple":
            steps = self.apple_gpu_memory.steps
            return next((share for top, share in steps if memory_gb <= top), steps[-1][1])
        if chip.kind == "soc":
            return chip.gpu_mem_share if chip.gpu_mem_share is not None else 0.75
        return 1.0

    def resolve(self, name: str) -> Chip:
        """The chip called ``name``: an id, a full name or an alias (``m4pro``, ``"M4 Pro"``,
        ``4090``); ``this`` or ``auto`` describe this machine's CPU. Unknown names raise a
        UsageError listing the closest catalog names."""
        key = normalize(name)
        if key in ("this", "auto", "local", "host"):
            return this_machine(self)
        if key in self._index:
            return self.chips[self._index[key]]
        for prefix in ("apple", "nvidia", "geforce", "amd", "radeon", "intel"):
            stripped = key.removeprefix(prefix)
            if stripped != key and stripped in self._index:
                return self.chips[self._index[stripped]]
        raise UsageError(f"unknown chip {name!r}", hint=self._suggest(key))

    def _suggest(self, key: str) -> str:
        from difflib import get_close_matches

        close = get_close_matches(key, list(self._index), n=6, cutoff=0.5)
        ids = list(dict.fromkeys(self._index[c] for c in close))[:4]
        if not ids:
            starts = [i for k, i in self._index.items() if k.startswith(key[:3])]
            ids = list(dict.fromkeys(starts))[:4]
        lead = f"did you mean {', '.join(ids)}? " if ids else ""
        return lead + "`llmbox chips` lists the catalog; `--chip this` describes this machine"

    def select(self, vendor: str | None = None, kind: str | None = None) -> list[Chip]:
        out = list(self.chips.values())
        if vendor:
            out = [c for c in out if c.vendor == vendor.lower()]
        if kind:
            out = [c for c in out if c.kind == kind.lower()]
        return out


def normalize(name: str) -> str:
    """The form names are matched in: lower case, no spaces, dashes, underscores or ``+``.

    >>> normalize("M4 Pro")
    'm4pro'
    >>> normalize("RTX-4090")
    'rtx4090'
    """
    return re.sub(r"[\s\-_+()/,]", "", name.lower()).replace("geforce", "")


def _fail(path: Path, text: str, loc: tuple[str | int, ...], message: str) -> ConfigError:
    """A ConfigError pointing at the YAML line of ``loc`` (found only when something is wrong)."""
    from llmbox.yamlio import located_error

    return located_error(path, text, loc, message, hint="see docs/hw-estimate.md")


def _schema() -> Any:
    from llmbox.hw._schema import ChipsFile

    return ChipsFile


def schema_version() -> str:
    """What keys a cached validation besides the text: the schema module's own bytes, so a
    change to the models never meets a cache of the old shape (and costs no pydantic import)."""
    import hashlib

    source = Path(__file__).with_name("_schema.py").read_bytes()
    return hashlib.sha1(source, usedforsecurity=False).hexdigest()[:12]


def parse_catalog(data: Any, path: Path, text: str) -> Catalog:
    """Validate the loaded YAML of a chip catalog (pydantic, ``extra="forbid"``) and build it."""
    from llmbox.hw._schema import ChipsFile
    from llmbox.yamlio import _validate

    model = _validate(path, text, data, ChipsFile, "docs/hw-estimate.md")
    return build_catalog(model.model_dump(mode="json", by_alias=True), path, text)


def build_catalog(data: dict[str, Any], path: Path, text: str) -> Catalog:
    """The catalog from data the schema (``llmbox.hw._schema.ChipsFile``) has validated; checks
    what refers to what (a chip's family, a family's offload host, duplicate ids)."""

    def fail(loc: tuple[str | int, ...], message: str) -> ConfigError:
        return _fail(path, text, loc, message)

    families = {name: Family(name=name, **raw) for name, raw in data["families"].items()}
    steps = ((data.get("apple_gpu_memory") or {}).get("steps")) or []
    runners = {
        name: Runner(
            name=name,
            decode=raw["decode"],
            prefill=raw["prefill"],
            only=tuple(raw["only"]),
            tensor_parallel=raw["tensor_parallel"],
            fitted_on=raw["fitted_on"],
        )
        for name, raw in data["runners"].items()
    }
    eras = {
        name: Era(
            name=name,
            decode=raw["decode"],
            prefill=raw["prefill"],
            fitted_on=raw["fitted_on"],
            note=raw.get("note") or "",
            compute=dict(raw.get("compute") or {}),
            prefill_layer_ms=dict(raw.get("prefill_layer_ms") or {}),
        )
        for name, raw in data["llama_cpp_eras"].items()
    }
    architectures = {
        name: Architecture(
            name=name,
            chips=tuple(raw["chips"]),
            fp32_lanes_per_sm=raw.get("fp32_lanes_per_sm"),
            prefill_tflops_per_w=raw["prefill_tflops_per_w"],
            fitted_on=raw["fitted_on"],
            note=raw.get("note") or "",
        )
        for name, raw in (data.get("architectures") or {}).items()
    }
    chips: dict[str, Chip] = {}
    for i, raw in enumerate(data["chips"]):
        if raw["family"] not in families:
            raise fail(("chips", i, "family"), f"unknown family {raw['family']!r}")
        if raw["id"] in chips:
            raise fail(("chips", i, "id"), f"duplicate id {raw['id']!r}")
        entry = dict(raw)
        for key in ("source", "aliases", "memory_gb"):
            entry[key] = tuple(raw[key])
        chips[raw["id"]] = Chip(**entry)
    bands = {
        (group, runner): Band(
            decode=(raw["decode"][0], raw["decode"][1]),
            prefill=(raw["prefill"][0], raw["prefill"][1]),
            rows=raw["rows"],
        )
        for group, by_runner in data["bands"].items()
        for runner, raw in by_runner.items()
    }
    owner: dict[str, str] = {}
    for arch in architectures.values():
        for chip_id in arch.chips:
            if chip_id not in chips:
                raise fail(("architectures", arch.name, "chips"), f"unknown chip {chip_id!r}")
            if chip_id in owner:
                raise fail(
                    ("architectures", arch.name, "chips"),
                    f"{chip_id!r} is already in architecture {owner[chip_id]!r}",
                )
            owner[chip_id] = arch.name
            if arch.fp32_lanes_per_sm:
                chips[chip_id] = replace(chips[chip_id], fp32_lanes_per_sm=arch.fp32_lanes_per_sm)
    for fam in families.values():
        if fam.offload_host and fam.offload_host not in chips:
            raise fail(("families", fam.name, "offload_host"), "not a chip id in this catalog")
    return Catalog(
        path=path,
        chips=chips,
        families=families,
        sources=dict(data["sources"]),
        apple_gpu_memory=AppleGpuMemory(tuple((a, b) for a, b in steps))
        if steps
        else AppleGpuMemory(),
        runners=runners,
        eras=eras,
        bands=bands,
        architectures=architectures,
    )


def load_catalog(path: Path | None = None) -> Catalog:
    """The shipped catalog, or the one at ``path``."""
    from llmbox.yamlio import read_validated

    if path is None:
        from llmbox.config import configs_dir

        path = configs_dir() / "chips.yaml"
    data, text = read_validated(path, _schema, version=schema_version(), doc="docs/hw-estimate.md")
    return build_catalog(data, path, text)


# --- this machine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostFacts:
    """What the OS tells about this machine's CPU and memory."""

    cpu_name: str
    cores: int
    ghz: float | None
    memory_gb: float | None
    isa: str  # avx512 | avx2 | neon | scalar
    apple_chip: str | None = None


def _proc_facts(cpuinfo: str, meminfo: str, cores: int | None) -> HostFacts:
    name, mhz, flags = "unknown CPU", None, ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Hardware", "cpu model") and name == "unknown CPU":
            name = value
        elif key == "cpu MHz" and mhz is None:
            try:
                mhz = float(value)
            except ValueError:
                pass
        elif key in ("flags", "Features") and not flags:
            flags = value
    words = set(flags.split())
    isa = "avx512" if "avx512f" in words else "avx2" if "avx2" in words else "scalar"
    if isa == "scalar" and ("asimd" in words or "neon" in words):
        isa = "neon"
    memory = None
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            try:
                memory = int(line.split()[1]) * 1024 / 1e9
            except (IndexError, ValueError):
                pass
    return HostFacts(
        cpu_name=name,
        cores=cores or 1,
        ghz=mhz / 1000 if mhz else None,
        memory_gb=memory,
        isa=isa,
    )


def host_facts() -> HostFacts:
    """Read /proc/cpuinfo and /proc/meminfo (Linux) or sysctl (macOS)."""
    import os
    import platform

    if platform.system() == "Darwin":
        from llmbox.machine import _run

        brand = _run("sysctl", "-n", "machdep.cpu.brand_string") or platform.processor()
        mem = _run("sysctl", "-n", "hw.memsize")
        freq = _run("sysctl", "-n", "hw.cpufrequency_max")
        is_apple = brand.startswith("Apple")
        return HostFacts(
            cpu_name=brand,
            cores=os.cpu_count() or 1,
            ghz=int(freq) / 1e9 if freq and freq.isdigit() else None,
            memory_gb=int(mem) / 1e9 if mem and mem.isdigit() else None,
            isa="neon" if is_apple else "avx2",
            apple_chip=brand if is_apple else None,
        )

    def read(path: str) -> str:
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return ""

    return _proc_facts(read("/proc/cpuinfo"), read("/proc/meminfo"), os.cpu_count())


def chip_from_facts(facts: HostFacts, catalog: Catalog) -> Chip:
    """A generic CPU entry for this machine: bandwidth limited by its core count, compute from
    cores x clock x FLOP/cycle of its vector unit. On Apple silicon, the catalog's chip."""
    if facts.apple_chip:
        try:
            chip = catalog.resolve(facts.apple_chip)
        except UsageError:
            pass
        else:
            memory = (round(facts.memory_gb),) if facts.memory_gb else chip.memory_gb
            return replace(chip, memory_gb=memory, note=f"this machine: {facts.apple_chip}")
    base = catalog.chips.get("cpu-ddr5-5600") or next(
        c for c in catalog.chips.values() if c.kind == "cpu"
    )
    ghz = facts.ghz or 3.0
    tflops = facts.cores * ghz * FLOP_PER_CYCLE[facts.isa] / 1000
    bw = min(base.bw_gbs, facts.cores * PER_CORE_BW_GBS)
    memory = (round(facts.memory_gb, 1),) if facts.memory_gb else base.memory_gb
    return Chip(
        id="this",
        name=f"this machine: {facts.cpu_name}, {facts.cores} cores",
        vendor="generic",
        kind="cpu",
        family="cpu",
        memory_gb=memory,
        bw_gbs=round(bw, 1),
        fp16_tflops=round(tflops, 3),
        fp32_tflops=round(tflops, 3),
        cpu_cores=facts.cores,
        confidence="uncertain",
        source=("ddr-math",),
        note=(
            f"{facts.cores} cores x {ghz:.2f} GHz x {FLOP_PER_CYCLE[facts.isa]} FLOP/cycle "
            f"({facts.isa}); bandwidth min({base.bw_gbs:g}, {facts.cores} x "
            f"{PER_CORE_BW_GBS:g} GB/s per core). Calibrate with --calibrate bench.json."
        ),
    )


def this_machine(catalog: Catalog) -> Chip:
    return chip_from_facts(host_facts(), catalog)


def as_dict(chip: Chip, catalog: Catalog | None = None) -> dict[str, Any]:
    """A chip as JSON-ready data (``llmbox chips --format json``)."""
    out: dict[str, Any] = {
        "id": chip.id,
        "name": chip.name,
        "vendor": chip.vendor,
        "kind": chip.kind,
        "family": chip.family,
        "aliases": list(chip.aliases),
        "memory_gb": list(chip.memory_gb),
        "bw_gbs": chip.bw_gbs,
        "fp16_tflops": chip.fp16_tflops,
        "fp32_tflops": chip.fp32_tflops,
        "gpu_cores": chip.gpu_cores,
        "int8_tops": chip.int8_tops,
        "board_power_w": chip.board_power_w,
        "launch_price_usd": chip.launch_price_usd,
        "confidence": chip.confidence,
        "source": list(chip.source),
    }
    if catalog is not None:
        out["gpu_memory_share"] = catalog.gpu_share(chip, max(chip.memory_gb))
        out["sources"] = {k: catalog.sources[k] for k in chip.source if k in catalog.sources}
    if chip.note:
        out["note"] = chip.note
    return out
