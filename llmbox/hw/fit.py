"""Fitting the family efficiency factors to measurements, and scoring the estimator against them.

Used three ways: ``benchmarks/hw_validation.py`` (published llama.cpp results in
``configs/hw_validation.yaml``), the validation test, and ``llmbox hw-estimate --calibrate
bench.json`` (this machine's own ``llmbox bench`` results).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

from llmbox.errors import ConfigError
from llmbox.hw.chips import CURRENT_ERA, Architecture, Band, Catalog, Chip, Era, Family, Runner
from llmbox.hw.estimate import (
    BATCH,
    GB,
    Workload,
    estimate,
    flash_attention_default,
    power_cap_tflops,
    prefill_flops,
)
from llmbox.hw.models import ModelCatalog, ModelSpec, with_quant
from llmbox.hw.quant import lookup

VALIDATION_SCHEMA = "llmbox.hw-validation/1"
LLAMA_BENCH = ("llama.cpp", "llama.cpp-vulkan")
#: Rows that inform the context factors: a long answer or a long prompt.
LONG_DECODE = 1500
LONG_PROMPT = 2048
#: Context-cost multipliers tried by the fit (1 = attention as cheap as the matrix work).
COST_GRID = tuple(1 + 0.5 * i for i in range(15))  # 1 .. 8


@dataclass(frozen=True)
class Observation:
    """One measured run: tokens/s of prefill (``pp`` tokens) and decode (``tg`` tokens)."""

    chip: Chip
    model: ModelSpec
    pp: int
    tg: int
    prefill_tps: float | None = None
    decode_tps: float | None = None
    images: int = 0
    memory_gb: float | None = None
    #: KV cache allocated; None = pp + tg, as llama-bench allocates.
    context: int | None = None
    #: Measured prompt time including images (seconds), when that is what was published.
    prompt_eval_s: float | None = None
    source: str = ""
    checked: str = ""
    fit: bool = True
    note: str | None = None
    #: What produced the figures: llama-bench (``llama.cpp``), ``ollama``, ``mlx``, ``vllm``.
    runner: str = "llama.cpp"
    #: None = the runner's default for the model (llama-bench: off; Ollama: by architecture).
    flash_attention: bool | None = None
    #: Tokens in the cache before the test (llama-bench ``-d``).
    depth: int = 0
    #: The llama.cpp build era the run used (the year of the build; ``llama_cpp_eras``).
    era: str = CURRENT_ERA

    @property
    def bench(self) -> bool:
        """A llama-bench row: pp and tg are separate tests, each starting at ``depth``."""
        return self.runner in LLAMA_BENCH

    @property
    def decode_kv_tokens(self) -> float:
        """Mean tokens in the cache while the measured tokens were generated."""
        start = self.depth if self.bench else self.depth + self.pp
        return start + self.tg / 2

    @property
    def flash(self) -> bool:
        """Whether the run used flash attention (given, else the runner's default)."""
        if self.flash_attention is not None:
            return self.flash_attention
        return flash_attention_default(self.runner, self.model)

    @property
    def label(self) -> str:
        return f"{self.chip.id} {self.model.name} {self.model.quant}"

    def workload(self) -> Workload:
        return Workload(
            prompt_tokens=self.pp,
            gen_tokens=self.tg,
            images=self.images,
            memory_gb=self.memory_gb,
            context=self.context or max(1, self.depth + self.pp + self.tg),
            runner=self.runner,
            flash_attention=self.flash_attention,
            depth=self.depth,
            era=self.era,
        )


@dataclass(frozen=True)
class Scored:
    obs: Observation
    prefill_pred: float | None
    decode_pred: float | None
    prompt_s_pred: float | None = None

    @staticmethod
    def _ape(pred: float | None, meas: float | None) -> float | None:
        if pred is None or meas is None or not math.isfinite(pred):
            return None
        return abs(pred - meas) / meas * 100

    @property
    def prefill_ape(self) -> float | None:
        return self._ape(self.prefill_pred, self.obs.prefill_tps)

    @property
    def decode_ape(self) -> float | None:
        return self._ape(self.decode_pred, self.obs.decode_tps)


@dataclass(frozen=True)
class Report:
    rows: list[Scored]

    def median_ape(self, metric: str, where: Callable[[Observation], bool] | None = None) -> float:
        values = [
            v
            for r in self.rows
            if r.obs.fit and (where is None or where(r.obs))
            for v in [getattr(r, f"{metric}_ape")]
            if v is not None
        ]
        return median(values) if values else float("nan")

    def count(self, metric: str) -> int:
        return sum(1 for r in self.rows if r.obs.fit and getattr(r, f"{metric}_ape") is not None)


# --- loading --------------------------------------------------------------------------------------


def load_observations(
    path: Path, catalog: Catalog, models: ModelCatalog
) -> tuple[list[Observation], dict[str, str]]:
    """The rows of a validation table, resolved against the catalogs; and its ``sources``."""
    from llmbox.hw.chips import _fail
    from llmbox.yamlio import read_yaml

    data, text = read_yaml(path, cache=True)
    if not isinstance(data, dict) or data.get("schema") != VALIDATION_SCHEMA:
        raise _fail(path, text, ("schema",), f"expected {VALIDATION_SCHEMA!r}")
    allowed = set(Observation.__dataclass_fields__) | {"quant"}
    out: list[Observation] = []
    for i, raw in enumerate(data.get("rows") or []):
        if not isinstance(raw, dict):
            raise _fail(path, text, ("rows", i), "expected a mapping")
        for key in raw:
            if key not in allowed:
                raise _fail(path, text, ("rows", i, key), "unknown field")
        entry = dict(raw)
        entry["era"] = str(entry.get("era", CURRENT_ERA))
        try:
            entry["chip"] = catalog.resolve(str(entry["chip"]))
            entry["model"] = with_quant(models.resolve(str(entry["model"])), entry.pop("quant"))
        except KeyError as err:
            raise _fail(path, text, ("rows", i), f"field {err} is required") from None
        except Exception as err:
            raise _fail(path, text, ("rows", i), str(err)) from None
        out.append(Observation(**entry))
    sources = {str(k): str(v) for k, v in (data.get("sources") or {}).items()}
    for obs in out:
        if obs.source not in sources:
            raise ConfigError(f"{path}: row {obs.label} cites unknown source {obs.source!r}")
    return out, sources


# --- prediction -----------------------------------------------------------------------------------


def with_families(catalog: Catalog, families: dict[str, Family]) -> Catalog:
    return replace(catalog, families={**catalog.families, **families}, _index={})


def score(obs: Iterable[Observation], catalog: Catalog) -> Report:
    rows = []
    for o in obs:
        work = o.workload()
        est = estimate(o.chip, catalog, o.model, work)
        pre = est.prefill_tps if math.isfinite(est.prefill_tps) else None
        decode = est.decode_tps
        if o.bench and o.tg and o.pp:
            # llama-bench's tg test starts at the depth, not after the pp test's prompt.
            decode = estimate(o.chip, catalog, o.model, replace(work, prompt_tokens=0)).decode_tps
        rows.append(Scored(o, pre, decode, est.prefill_s + est.image_s))
    return Report(rows)


def _decode_features(o: Observation, family: Family, kv_cost: float) -> tuple[float, float]:
    """(seconds per token at 100% of peak bandwidth, layers) of a decode measurement; the KV
    cache read at ``kv_cost`` times its bytes without flash attention (the cost being fitted),
    at the family's ``decode_kv_cost_fa`` with it."""
    kv = o.model.kv_layer_bytes_per_token * o.model.kv_tokens_held(o.decode_kv_tokens)
    read = o.model.active_weight_bytes + kv * (family.decode_kv_cost_fa if o.flash else kv_cost)
    return read / (o.chip.bw_gbs * GB), float(o.model.layers)


def _median_ape(pairs: Iterable[tuple[float, float]]) -> float:
    values = [abs(p - m) / m for p, m in pairs if m > 0 and math.isfinite(p)]
    return median(values) if values else float("inf")


def fit_family(
    family: Family, obs: Sequence[Observation], *, label: str, fixed_overhead: bool = False
) -> Family:
    """``family`` with its factors fitted to ``obs`` (all on chips of that family, fully on GPU).

    Decode: ``1/decode_tps = (W + k x KV)/B / eff + layers x layer_ms`` — a linear least-squares
    fit of (1/eff, layer_ms) weighted by 1/measured time, so every row counts by its relative
    error; ``k`` (``decode_kv_cost``) is chosen on a grid where the family has rows with long
    answers. With one row, or ``fixed_overhead``, only the bandwidth efficiency is fitted.
    Prefill: the median over rows of the efficiency each row implies, the attention FLOPs
    counted ``prefill_attn_cost`` times (chosen on a grid where there are long-prompt rows).
    """
    dec = [o for o in obs if o.decode_tps]
    new = family
    if dec:
        fix = fixed_overhead or len(dec) < 3
        long_rows = sum(1 for o in dec if o.decode_kv_tokens >= LONG_DECODE and not o.flash)
        costs = COST_GRID if long_rows >= 4 else (family.decode_kv_cost,)
        best: tuple[float, float, float, float] | None = None
        for k in costs:
            rows = [(*_decode_features(o, family, k), 1 / (o.decode_tps or 1.0)) for o in dec]
            a, b = _fit_decode(rows, family.decode_layer_ms / 1000, fix)
            err = _median_ape((1 / (a * x + b * y), 1 / t) for x, y, t in rows)
            if long_rows >= 4:  # judge k on the rows it is about
                err = _median_ape(
                    (1 / (a * x + b * y), 1 / t)
                    for (x, y, t), o in zip(rows, dec, strict=True)
                    if o.decode_kv_tokens >= LONG_DECODE and not o.flash
                ) + _median_ape((1 / (a * x + b * y), 1 / t) for x, y, t in rows)
            if best is None or err < best[0]:
                best = (err, a, b, k)
        assert best is not None
        _, a, b, k = best
        new = replace(
            new,
            decode_bw_eff=round(1 / a, 4),
            decode_layer_ms=round(b * 1000, 4),
            decode_kv_cost=k,
        )
    pre = [o for o in obs if o.prefill_tps and o.chip.compute_tflops(family.compute)]
    if pre:
        long_rows = sum(1 for o in pre if o.pp >= LONG_PROMPT)
        costs = COST_GRID if long_rows >= 4 else (family.prefill_attn_cost,)
        best_p: tuple[float, float, float] | None = None
        for k in costs:
            effs = [_implied_prefill_eff(o, new, k) for o in pre]
            eff = median(effs)
            err = _median_ape((e / eff, 1.0) for e in effs)
            if long_rows >= 4:
                err += _median_ape(
                    (e / eff, 1.0) for e, o in zip(effs, pre, strict=True) if o.pp >= LONG_PROMPT
                )
            if best_p is None or err < best_p[0]:
                best_p = (err, eff, k)
        assert best_p is not None
        new = replace(new, prefill_eff=round(best_p[1], 4), prefill_attn_cost=best_p[2])
    return replace(new, fitted_on=label)


def _implied_prefill_eff(o: Observation, family: Family, attn_cost: float) -> float:
    """The share of the compute figure that would make the estimator hit this row's prefill."""
    tflops = o.chip.compute_tflops(family.compute) or 1.0
    seconds = o.pp / (o.prefill_tps or 1.0) - o.model.layers * family.decode_layer_ms / 1000
    flops = prefill_flops(o.model, o.pp, o.depth, attn_cost)
    factor = lookup(o.model.quant).prefill_factor
    return flops / (max(seconds, 1e-9) * tflops * 1e12 * factor)


def _fit_decode(
    rows: Sequence[tuple[float, float, float]], prior_b: float, fix_b: bool
) -> tuple[float, float]:
    """Least squares of ``t = a·x + b·y`` in relative terms with ``a >= 1`` (no chip streams
    faster than its peak bandwidth) and ``b >= 0``; with ``fix_b``, ``b`` stays at the prior."""

    def solve_b(a: float) -> float:
        syy = sum((y / t) ** 2 for _, y, t in rows)
        return max(0.0, sum(y * (t - a * x) / t**2 for x, y, t in rows) / syy) if syy else 0.0

    def solve_a(b: float) -> float:
        sxx = sum((x / t) ** 2 for x, _, t in rows)
        return max(1.0, sum(x * (t - b * y) / t**2 for x, y, t in rows) / sxx)

    if fix_b:
        return solve_a(prior_b), prior_b
    sxx = sum((x / t) ** 2 for x, _, t in rows)
    syy = sum((y / t) ** 2 for _, y, t in rows)
    sxy = sum(x * y / t**2 for x, y, t in rows)
    sx1 = sum(x / t for x, _, t in rows)
    sy1 = sum(y / t for _, y, t in rows)
    det = sxx * syy - sxy**2
    if abs(det) > 1e-18 * max(sxx * syy, 1e-300):
        a = (sx1 * syy - sy1 * sxy) / det
        b = (sxx * sy1 - sxy * sx1) / det
        if a >= 1 and b >= 0:
            return a, b
    # On the boundary: the better of a = 1 (b free) and b = 0 (a free).
    candidates = [(1.0, solve_b(1.0)), (solve_a(0.0), 0.0)]

    def sse(ab: tuple[float, float]) -> float:
        return sum(((ab[0] * x + ab[1] * y) / t - 1) ** 2 for x, y, t in rows)

    return min(candidates, key=sse)


def fit_all(
    obs: Sequence[Observation], catalog: Catalog, *, power_capped: frozenset[str] = frozenset()
) -> dict[str, Family]:
    """Fitted factors of every family that has llama-bench rows (rows with ``fit: false`` and
    rows of other runners are ignored: those fit the runner factors). A family without long-
    context rows of its own takes the context costs fitted on all rows together. The prefill
    rows of ``power_capped`` chips (whose board power, not their TFLOPS, sets the rate) do not
    inform the family's share of the compute figure."""
    by_family: dict[str, list[Observation]] = {}
    for o in obs:
        if o.fit and o.runner == "llama.cpp":
            row = as_current(o, catalog)
            if o.chip.id in power_capped:
                row = replace(row, prefill_tps=None)
            by_family.setdefault(o.chip.family, []).append(row)
    shared = _shared_context_costs(by_family, catalog)
    out = {}
    for name, rows in by_family.items():
        chips = len({o.chip.id for o in rows})
        base = replace(
            catalog.families[name], decode_kv_cost=shared[0], prefill_attn_cost=shared[1]
        )
        out[name] = fit_family(
            base,
            rows,
            label=f"{len(rows)} measurements on {chips} chips in configs/hw_validation.yaml",
        )
    return out


def fit_power_caps(obs: Sequence[Observation], catalog: Catalog) -> dict[str, Architecture]:
    """Each architecture's prefill work per board watt, on the current era's llama-bench rows
    of its chips (with the catalog's family factors): the cap ``c`` minimising the summed
    ``|log(min(F, W x c) / R)|`` over its rows, ``F`` the family's rate from the compute figure,
    ``R`` the rate the row implies. The best cap is one of the rows' own ``R / W`` or none at
    all (it then binds nowhere): those are the only places the error's slope changes."""
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for o in obs:
        arch = catalog.architecture(o.chip)
        if (
            arch is None
            or not (o.fit and o.runner == "llama.cpp" and o.era == CURRENT_ERA and o.prefill_tps)
            or not o.chip.board_power_w
        ):
            continue
        fam = catalog.family(o.chip)
        compute = o.chip.compute_tflops(fam.compute)
        if not compute:
            continue
        implied = _implied_prefill_eff(o, fam, fam.prefill_attn_cost) * compute
        rows.setdefault(arch.name, []).append(
            (compute * fam.prefill_eff, o.chip.board_power_w, implied)
        )
    out = {}
    for name, arch in catalog.architectures.items():
        got = rows.get(name, [])

        def err(cap: float | None, got: list[tuple[float, float, float]] = got) -> float:
            return sum(
                abs(math.log((f if cap is None else min(f, w * cap)) / r)) for f, w, r in got
            )

        best: float | None = None
        for cap in sorted({round(r / w, 4) for _, w, r in got}):
            if err(cap) < err(best) - 1e-9:
                best = cap
        out[name] = replace(
            arch,
            prefill_tflops_per_w=best,
            fitted_on=f"{len(got)} measurements in configs/hw_validation.yaml"
            if got
            else "no measurements",
        )
    return out


def with_power_caps(catalog: Catalog, archs: dict[str, Architecture]) -> Catalog:
    return replace(catalog, architectures={**catalog.architectures, **archs})


def fit_compute(obs: Sequence[Observation], catalog: Catalog) -> Catalog:
    """``catalog`` with its family factors and architecture power caps fitted on ``obs``: the
    families first, then the caps, then the families again without the prefill rows of chips
    whose cap binds (their TFLOPS do not set their rate), then the caps on those families."""
    fitted = with_families(catalog, fit_all(obs, catalog))
    for _ in range(2):
        fitted = with_power_caps(fitted, fit_power_caps(obs, fitted))
        capped = frozenset(
            c.id
            for c in fitted.chips.values()
            if (cap := power_cap_tflops(c, fitted)) is not None
            and (compute := c.compute_tflops(fitted.family(c).compute))
            and cap < compute * fitted.family(c).prefill_eff
        )
        fitted = with_families(fitted, fit_all(obs, fitted, power_capped=capped))
    return with_power_caps(fitted, fit_power_caps(obs, fitted))


def as_current(o: Observation, catalog: Catalog) -> Observation:
    """``o`` as the current llama.cpp would have measured it: an older era's speeds divided by
    that era's factors (``catalog.eras``; 1 where the era has none)."""
    era = catalog.eras.get(o.era)
    if o.era == CURRENT_ERA or era is None:
        return o
    fam = o.chip.family
    prefill = _without_layer_cost(o, era.layer_ms(fam))
    prefill = prefill / era.factor("prefill", fam) if prefill else None
    basis = era.compute.get(fam)
    if prefill and basis:
        # The era ran on another compute figure: what the current kernels would reach on the
        # family's own figure at the same efficiency.
        now, then = (
            o.chip.compute_tflops(catalog.families[fam].compute),
            o.chip.compute_tflops(basis),
        )
        prefill = prefill * now / then if now and then else None
    return replace(
        o,
        era=CURRENT_ERA,
        prefill_tps=prefill,
        decode_tps=o.decode_tps / era.factor("decode", fam) if o.decode_tps else None,
    )


def _batch_layers(o: Observation) -> float:
    """Layers x prompt batches of a row: what a fixed per-layer, per-batch cost multiplies."""
    return o.model.layers * math.ceil(o.pp / BATCH)


def _without_layer_cost(o: Observation, layer_ms: float) -> float | None:
    """The row's prefill tokens/s with a fixed per-layer, per-batch cost taken out."""
    if not o.prefill_tps:
        return None
    seconds = o.pp / o.prefill_tps - _batch_layers(o) * layer_ms / 1000
    return o.pp / seconds if seconds > 0 else None


def fit_layer_cost(rows: Sequence[tuple[str, float, float, float]]) -> float:
    """The fixed per-layer, per-batch prefill cost (ms) shared by a set of rows
    ``(chip, predicted compute seconds, layers x batches, measured seconds)``: least squares of
    ``t = k_chip x x + b x y`` in relative terms, a scale ``k`` per chip (its own efficiency)
    and one ``b >= 0`` (the backend's host overhead), solved by alternating the two."""
    chips = sorted({c for c, *_ in rows})
    if len(chips) < 2 or all(len({y for c2, _, y, _ in rows if c2 == c}) < 2 for c in chips):
        return 0.0
    b = 0.0
    k = dict.fromkeys(chips, 1.0)
    for _ in range(200):
        for c in chips:
            mine = [(x, y, t) for c2, x, y, t in rows if c2 == c]
            sxx = sum((x / t) ** 2 for x, _, t in mine)
            k[c] = sum(x * (t - b * y) / t**2 for x, y, t in mine) / sxx
        syy = sum((y / t) ** 2 for _, _, y, t in rows)
        b = max(0.0, sum(y * (t - k[c] * x) / t**2 for c, x, y, t in rows) / syy)
    return round(b * 1000, 4)


#: Families on llama.cpp's CUDA backend: an era's CUDA kernels are shared by all of them.
CUDA_FAMILIES = ("nvidia-geforce", "nvidia-datacenter", "nvidia-pascal", "nvidia-soc")
#: Fewest chips measured in both eras for a family to get an era factor of its own.
ERA_MIN_CHIPS = 2


def fit_eras(obs: Sequence[Observation], catalog: Catalog) -> dict[str, Era]:
    """Each older llama.cpp era's speed against the current one, per chip family, from chips
    measured (with llama-bench) in both: per chip the median measured/predicted ratio of its
    old rows over that of its current rows (the chip's own efficiency cancels), then the median
    over the family's chips. A CUDA family with fewer than ``ERA_MIN_CHIPS`` paired chips takes
    the median over every CUDA chip (the kernels that changed most); other families without
    paired chips keep 1 (no evidence of a change)."""
    bench = [o for o in obs if o.fit and o.runner == "llama.cpp"]
    # Factors 1, but each era's compute basis kept: an old row is predicted on the figure its
    # kernels ran on.
    now = replace(
        catalog,
        eras={k: Era(name=k, compute=dict(e.compute)) for k, e in catalog.eras.items()},
    )
    stripped = [
        o if catalog.eras.get(o.era, Era(o.era)).compute else replace(o, era=CURRENT_ERA)
        for o in bench
    ]
    first = list(zip(bench, score(stripped, now).rows, strict=True))
    # Each era's fixed per-layer prefill cost on CUDA, then the rows without it.
    layer_ms = {
        name: fit_layer_cost(
            [
                (o.chip.id, o.pp / r.prefill_pred, _batch_layers(o), o.pp / o.prefill_tps)
                for o, r in first
                if o.era == name
                and o.pp <= BATCH
                and o.chip.family in CUDA_FAMILIES
                and o.prefill_tps
                and r.prefill_pred
            ]
        )
        for name in {o.era for o in bench} - {CURRENT_ERA}
    }
    scored = [
        (
            o,
            replace(r, obs=replace(r.obs, prefill_tps=_without_layer_cost(o, layer_ms[o.era])))
            if o.era in layer_ms and o.chip.family in CUDA_FAMILIES
            else r,
        )
        for o, r in first
    ]
    out: dict[str, Era] = {}
    for name in sorted({o.era for o in bench} - {CURRENT_ERA}):
        tables: dict[str, dict[str, float]] = {}
        chips_n = 0
        for metric in ("decode", "prefill"):
            per_chip: dict[str, tuple[str, float]] = {}
            for chip_id in sorted({o.chip.id for o in bench if o.era == name}):
                old = _ratios(scored, chip_id, name, metric)
                cur = _ratios(scored, chip_id, CURRENT_ERA, metric)
                if old and cur:
                    fam = next(o.chip.family for o in bench if o.chip.id == chip_id)
                    per_chip[chip_id] = (fam, median(old) / median(cur))
            cuda = [r for f, r in per_chip.values() if f in CUDA_FAMILIES]
            table = {}
            basis = catalog.eras[name].compute if name in catalog.eras else {}
            for fam in sorted(catalog.families):
                rs = [r for f, r in per_chip.values() if f == fam]
                if metric == "prefill" and fam in basis:
                    # Another compute figure: no chip's own efficiency to cancel, and other
                    # families' ratios are on another scale. The family's old chips against
                    # its current ones, paired or not.
                    own = _unpaired(scored, bench, fam, name, metric)
                    if own is not None:
                        table[fam] = round(own, 4)
                    continue
                own = _unpaired(scored, bench, fam, name, metric) if metric == "prefill" else None
                if len(rs) >= ERA_MIN_CHIPS:
                    table[fam] = round(median(rs), 4)
                elif own is not None:
                    # Too few chips measured in both eras: the family's old chips against its
                    # current ones (the HPC dies' old cuBLAS prefill is not the GeForce's).
                    table[fam] = round(own, 4)
                elif fam in CUDA_FAMILIES and cuda:
                    table[fam] = round(median(cuda), 4)
            tables[metric] = table
            chips_n = max(chips_n, len(per_chip))
        out[name] = Era(
            name=name,
            decode=tables["decode"],
            prefill=tables["prefill"],
            compute=dict(basis),
            prefill_layer_ms={f: layer_ms[name] for f in CUDA_FAMILIES if layer_ms[name]},
            fitted_on=f"{chips_n} chips measured in era {name} and {CURRENT_ERA} "
            "in configs/hw_validation.yaml",
        )
    return out


def _unpaired(
    scored: Sequence[tuple[Observation, Scored]],
    bench: Sequence[Observation],
    family: str,
    era: str,
    metric: str,
) -> float | None:
    """The median over ``family``'s chips measured in ``era`` of their median measured /
    predicted, over the same for its chips measured in the current era."""

    def per_chip(which: str) -> list[float]:
        ids = sorted({o.chip.id for o in bench if o.chip.family == family and o.era == which})
        return [median(r) for i in ids if (r := _ratios(scored, i, which, metric))]

    old, cur = per_chip(era), per_chip(CURRENT_ERA)
    return median(old) / median(cur) if old and cur else None


def _ratios(
    scored: Sequence[tuple[Observation, Scored]], chip_id: str, era: str, metric: str
) -> list[float]:
    out = []
    for o, r in scored:
        if o.chip.id != chip_id or o.era != era:
            continue
        meas = r.obs.prefill_tps if metric == "prefill" else r.obs.decode_tps
        p = r.prefill_pred if metric == "prefill" else r.decode_pred
        if meas and p:
            out.append(meas / p)
    return out


def with_eras(catalog: Catalog, obs: Sequence[Observation]) -> Catalog:
    """``catalog`` with its llama.cpp era factors fitted on ``obs``, the chips' predictions
    made with families fitted on the current era's rows alone (so the result depends on the
    rows, not on the factors the catalog ships)."""
    now = replace(catalog, eras={})
    current = [o for o in obs if o.era == CURRENT_ERA]
    base = fit_compute(current, now)
    fitted = {
        name: replace(era, note=catalog.eras[name].note if name in catalog.eras else "")
        for name, era in fit_eras(obs, replace(base, eras=catalog.eras)).items()
    }
    return replace(catalog, eras={**catalog.eras, **fitted})


def _shared_context_costs(
    by_family: dict[str, list[Observation]], catalog: Catalog
) -> tuple[float, float]:
    """The median of the context costs fitted in the families that have long-context rows."""
    dec: list[float] = []
    pre: list[float] = []
    for name, rows in by_family.items():
        long_dec = [o for o in rows if o.decode_tps and o.decode_kv_tokens >= LONG_DECODE]
        if sum(1 for o in long_dec if not o.flash) >= 4:
            dec.append(fit_family(catalog.families[name], rows, label="").decode_kv_cost)
        if sum(1 for o in rows if o.prefill_tps and o.pp >= LONG_PROMPT) >= 4:
            pre.append(fit_family(catalog.families[name], rows, label="").prefill_attn_cost)
    return (median(dec) if dec else 1.0, median(pre) if pre else 1.0)


def leave_one_chip_out(obs: Sequence[Observation], catalog: Catalog) -> Report:
    """Each chip predicted with factors fitted on the other chips only: every family's factors
    (and the shared context costs) and the runner factors from the rows of other chips."""
    rows: list[Scored] = []
    chips = list(dict.fromkeys(o.chip.id for o in obs if o.fit))
    for chip_id in chips:
        train = [o for o in obs if o.fit and o.chip.id != chip_id]
        test = [o for o in obs if o.fit and o.chip.id == chip_id]
        fam = test[0].chip.family
        if not any(o.chip.family == fam and o.runner == "llama.cpp" for o in train):
            continue  # the family's only chip: nothing left to fit on, so no honest prediction
        dated = with_eras(catalog, train)
        fitted = fit_compute(train, dated)
        fitted = replace(fitted, runners={**fitted.runners, **fit_runners(train, fitted)})
        rows.extend(score(test, fitted).rows)
    return Report(rows)


def fit_runners(obs: Sequence[Observation], catalog: Catalog) -> dict[str, Runner]:
    """Each serving runner's decode and prefill factors: per chip family, the median ratio of
    measured to llama-bench-predicted speed on that family's rows (a family with one row takes
    the runner's overall median, and so does every family without rows)."""
    ratios: dict[str, dict[str, dict[str, list[float]]]] = {}
    for o in obs:
        if not o.fit or o.runner == "llama.cpp":
            continue
        # llama-bench with the attention the runner used: the factor is what is left.
        work = replace(o.workload(), runner="llama.cpp", flash_attention=o.flash)
        if o.bench and o.pp and o.tg:
            work = replace(work, prompt_tokens=0)  # decode only; prefill below
        est = estimate(o.chip, catalog, o.model, work)
        if o.bench and o.pp and o.tg:
            pre_est = estimate(o.chip, catalog, o.model, replace(work, prompt_tokens=o.pp))
            est = replace(est, prefill_tps=pre_est.prefill_tps)
        by_metric = ratios.setdefault(o.runner, {"decode": {}, "prefill": {}})
        if o.decode_tps:
            by_metric["decode"].setdefault(o.chip.family, []).append(o.decode_tps / est.decode_tps)
        if o.prefill_tps and math.isfinite(est.prefill_tps):
            by_metric["prefill"].setdefault(o.chip.family, []).append(
                o.prefill_tps / est.prefill_tps
            )
    out: dict[str, Runner] = {}
    for name, by_metric in ratios.items():
        base = catalog.runners.get(name) or Runner(name)
        tables: dict[str, dict[str, float]] = {}
        for metric, fams in by_metric.items():
            every = [r for rs in fams.values() for r in rs]
            if not every:
                tables[metric] = dict(getattr(base, metric))
                continue
            table = {"default": round(median(every), 4)}
            table.update({f: round(median(rs), 4) for f, rs in fams.items() if len(rs) >= 2})
            tables[metric] = table
        n = sum(len(rs) for fams in by_metric.values() for rs in fams.values())
        out[name] = replace(
            base,
            decode=tables["decode"],
            prefill=tables["prefill"],
            fitted_on=f"{n} {name} measurements in configs/hw_validation.yaml",
        )
    return out


# --- the naive rule -------------------------------------------------------------------------------


def naive(obs: Sequence[Observation]) -> Report:
    """``decode = k x bandwidth / model bytes`` and ``prefill = k' x TFLOPS / (2 x params)``, each
    with one constant for every chip (the median ratio, so it is fitted as well as it can be)."""
    fit = [o for o in obs if o.fit]

    def dec_raw(o: Observation) -> float:
        return o.chip.bw_gbs * GB / o.model.active_weight_bytes

    def pre_raw(o: Observation) -> float | None:
        tflops = o.chip.fp16_tflops
        return tflops * 1e12 / (2 * o.model.active) if tflops else None

    k = median(float(o.decode_tps) / dec_raw(o) for o in fit if o.decode_tps)
    kp = median(
        float(o.prefill_tps) / r for o in fit if o.prefill_tps and (r := pre_raw(o)) is not None
    )
    rows = []
    for o in obs:
        p = pre_raw(o)
        rows.append(Scored(o, kp * p if p is not None else None, k * dec_raw(o)))
    return Report(rows)


def runners_yaml(runners: dict[str, Runner]) -> str:
    """The fitted runner factors as ``runners:`` entries of configs/chips.yaml."""
    lines = []
    for name, r in sorted(runners.items()):
        lines.append(f"  {name}:")
        for metric in ("decode", "prefill"):
            table = getattr(r, metric)
            items = ", ".join(f"{k}: {v}" for k, v in sorted(table.items()))
            lines.append(f"    {metric}: {{{items}}}")
        lines.append(f'    fitted_on: "{r.fitted_on}"')
    return "\n".join(lines) + "\n"


def eras_yaml(eras: dict[str, Era]) -> str:
    """The fitted era factors as ``llama_cpp_eras:`` entries of configs/chips.yaml."""
    lines = []
    for name, e in sorted(eras.items()):
        lines.append(f'  "{name}":')
        for metric in ("decode", "prefill"):
            items = ", ".join(f"{k}: {v}" for k, v in sorted(getattr(e, metric).items()))
            lines.append(f"    {metric}: {{{items}}}")
        if e.compute:
            items = ", ".join(f"{k}: {v}" for k, v in sorted(e.compute.items()))
            lines.append(f"    compute: {{{items}}}")
        if e.prefill_layer_ms:
            items = ", ".join(f"{k}: {v}" for k, v in sorted(e.prefill_layer_ms.items()))
            lines.append(f"    prefill_layer_ms: {{{items}}}")
        lines.append(f'    fitted_on: "{e.fitted_on}"')
        if e.note:
            lines.append(f'    note: "{e.note}"')
    return "\n".join(lines) + "\n"


def architectures_yaml(archs: dict[str, Architecture]) -> str:
    """The fitted power caps as ``architectures:`` entries of configs/chips.yaml."""
    lines = []
    for name, a in archs.items():
        cap = "null" if a.prefill_tflops_per_w is None else a.prefill_tflops_per_w
        lines.append(f"  {name}:")
        lines.append(f"    chips: [{', '.join(a.chips)}]")
        if a.fp32_lanes_per_sm:
            lines.append(f"    fp32_lanes_per_sm: {a.fp32_lanes_per_sm}")
        lines.append(f"    prefill_tflops_per_w: {cap}")
        lines.append(f'    fitted_on: "{a.fitted_on}"')
        if a.note:
            lines.append(f'    note: "{a.note}"')
    return "\n".join(lines) + "\n"


def families_yaml(families: dict[str, Family]) -> str:
    """The fitted factors as the ``families:`` entries of configs/chips.yaml."""
    lines = []
    for name, f in sorted(families.items()):
        lines.append(f"  {name}:")
        lines.append(f"    decode_bw_eff: {f.decode_bw_eff}")
        lines.append(f"    decode_layer_ms: {f.decode_layer_ms}")
        lines.append(f"    prefill_eff: {f.prefill_eff}")
        lines.append(f"    prefill_attn_cost: {f.prefill_attn_cost}")
        lines.append(f"    decode_kv_cost: {f.decode_kv_cost}")
        lines.append(f"    decode_kv_cost_fa: {f.decode_kv_cost_fa}")
        lines.append(f"    fitted_on: {f.fitted_on}")
    return "\n".join(lines) + "\n"


def summary(report: Report) -> dict[str, Any]:
    return {
        "decode_median_ape": round(report.median_ape("decode"), 2),
        "prefill_median_ape": round(report.median_ape("prefill"), 2),
        "decode_rows": report.count("decode"),
        "prefill_rows": report.count("prefill"),
    }


# --- uncertainty ----------------------------------------------------------------------------------

#: Fewest rows a band is computed from; smaller groups fall back to the runner's or everyone's.
BAND_MIN_ROWS = 8


def _p10_p90(values: Sequence[float]) -> tuple[float, float]:
    from statistics import quantiles

    if len(values) < 2:
        return (values[0], values[0]) if values else (1.0, 1.0)
    q = quantiles(values, n=10, method="inclusive")
    return (round(q[0], 3), round(q[-1], 3))


def bands(report: Report) -> dict[tuple[str, str], Band]:
    """p10..p90 of measured / predicted per (group, runner), from a report of rows that were
    not fitted on; "*" pools over groups or runners. Only cells with enough rows are kept."""
    cells: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in report.rows:
        o = r.obs
        if not o.fit:
            continue
        for key in ((o.chip.group, o.runner), (o.chip.group, "*"), ("*", o.runner), ("*", "*")):
            cell = cells.setdefault(key, {"decode": [], "prefill": []})
            if r.decode_pred and o.decode_tps:
                cell["decode"].append(o.decode_tps / r.decode_pred)
            if r.prefill_pred and o.prefill_tps:
                cell["prefill"].append(o.prefill_tps / r.prefill_pred)

    def prefill_of(key: tuple[str, str]) -> list[float]:
        """This cell's prefill ratios, else those of the group's, else everyone's (a runner
        with published decode rates only, like Ollama's eval rate, borrows them)."""
        for k in (key, (key[0], "*"), ("*", "*")):
            if len(cells.get(k, {}).get("prefill", [])) >= BAND_MIN_ROWS:
                return cells[k]["prefill"]
        return []

    out = {}
    for key, cell in sorted(cells.items()):
        if len(cell["decode"]) < BAND_MIN_ROWS:
            continue
        pre = prefill_of(key)
        out[key] = Band(
            decode=_p10_p90(cell["decode"]),
            prefill=_p10_p90(pre) if pre else (1.0, 1.0),
            rows=len(cell["decode"]),
        )
    return out


def bands_yaml(table: dict[tuple[str, str], Band]) -> str:
    """The bands as the ``bands:`` section of configs/chips.yaml."""
    lines = []
    groups = sorted({g for g, _ in table})
    for group in groups:
        lines.append(f'  "{group}":')
        for (g, runner), b in sorted(table.items()):
            if g != group:
                continue
            lines.append(
                f'    "{runner}": {{decode: [{b.decode[0]}, {b.decode[1]}], '
                f"prefill: [{b.prefill[0]}, {b.prefill[1]}], rows: {b.rows}}}"
            )
    return "\n".join(lines) + "\n"
