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
from llmbox.hw.chips import Catalog, Chip, Family, Runner
from llmbox.hw.estimate import GB, Workload, estimate, prefill_flops
from llmbox.hw.models import ModelCatalog, ModelSpec, with_quant
from llmbox.hw.quant import lookup

VALIDATION_SCHEMA = "llmbox.hw-validation/1"


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

    @property
    def label(self) -> str:
        return f"{self.chip.id} {self.model.name} {self.model.quant}"

    def workload(self) -> Workload:
        return Workload(
            prompt_tokens=self.pp,
            gen_tokens=self.tg,
            images=self.images,
            memory_gb=self.memory_gb,
            context=self.context or max(1, self.pp + self.tg),
            runner=self.runner,
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
        est = estimate(o.chip, catalog, o.model, o.workload())
        pre = est.prefill_tps if math.isfinite(est.prefill_tps) else None
        rows.append(Scored(o, pre, est.decode_tps, est.prefill_s + est.image_s))
    return Report(rows)


def _decode_features(o: Observation) -> tuple[float, float]:
    """(seconds per token at 100% of peak bandwidth, layers) of a decode measurement."""
    kv_tokens = o.pp + o.tg / 2
    read = o.model.active_weight_bytes + o.model.kv_bytes_per_token * kv_tokens
    return read / (o.chip.bw_gbs * GB), float(o.model.layers)


def fit_family(
    family: Family, obs: Sequence[Observation], *, label: str, fixed_overhead: bool = False
) -> Family:
    """``family`` with its factors fitted to ``obs`` (all on chips of that family, fully on GPU).

    Decode: ``1/decode_tps = t_bw / eff + layers x layer_ms`` — a linear least-squares fit of
    (1/eff, layer_ms) weighted by 1/measured time, so every row counts by its relative error.
    With one row, or ``fixed_overhead``, only the bandwidth efficiency is fitted. Prefill: the
    median over rows of the efficiency each row implies, so the median error is zero.
    """
    dec = [o for o in obs if o.decode_tps]
    new = family
    if dec:
        rows = [(*_decode_features(o), 1 / (o.decode_tps or 1.0)) for o in dec]
        a, b = _fit_decode(rows, family.decode_layer_ms / 1000, fixed_overhead or len(rows) < 3)
        new = replace(new, decode_bw_eff=round(1 / a, 4), decode_layer_ms=round(b * 1000, 4))
    pre = [o for o in obs if o.prefill_tps]
    if pre:
        effs = []
        for o in pre:
            tflops = o.chip.compute_tflops(family.compute)
            if not tflops:
                continue
            seconds = o.pp / (o.prefill_tps or 1.0) - o.model.layers * new.decode_layer_ms / 1000
            flops = prefill_flops(o.model, o.pp)
            factor = lookup(o.model.quant).prefill_factor
            effs.append(flops / (max(seconds, 1e-9) * tflops * 1e12 * factor))
        if effs:
            new = replace(new, prefill_eff=round(median(effs), 4))
    return replace(new, fitted_on=label)


def _fit_decode(
    rows: Sequence[tuple[float, float, float]], prior_b: float, fix_b: bool
) -> tuple[float, float]:
    """Least squares of ``t = a·x + b·y`` in relative terms; ``b`` clamped at >= 0."""
    if not fix_b:
        sxx = sum((x / t) ** 2 for x, _, t in rows)
        syy = sum((y / t) ** 2 for _, y, t in rows)
        sxy = sum(x * y / t**2 for x, y, t in rows)
        sx1 = sum(x / t for x, _, t in rows)
        sy1 = sum(y / t for _, y, t in rows)
        det = sxx * syy - sxy**2
        if abs(det) > 1e-18:
            a = (sx1 * syy - sy1 * sxy) / det
            b = (sxx * sy1 - sxy * sx1) / det
            if a > 0 and b >= 0:
                return a, b
        prior_b = 0.0 if abs(det) > 1e-18 else prior_b
    # One parameter: a with b fixed.
    num = sum(x * (t - prior_b * y) / t**2 for x, y, t in rows)
    den = sum((x / t) ** 2 for x, _, t in rows)
    return max(num / den, 1.0), prior_b


def fit_all(obs: Sequence[Observation], catalog: Catalog) -> dict[str, Family]:
    """Fitted factors of every family that has llama-bench rows (rows with ``fit: false`` and
    rows of other runners are ignored: those fit the runner factors)."""
    by_family: dict[str, list[Observation]] = {}
    for o in obs:
        if o.fit and o.runner == "llama.cpp":
            by_family.setdefault(o.chip.family, []).append(o)
    out = {}
    for name, rows in by_family.items():
        chips = len({o.chip.id for o in rows})
        out[name] = fit_family(
            catalog.families[name],
            rows,
            label=f"{len(rows)} measurements on {chips} chips in configs/hw_validation.yaml",
        )
    return out


def leave_one_chip_out(obs: Sequence[Observation], catalog: Catalog) -> Report:
    """Each chip predicted with factors fitted on the other chips only: its family's factors
    from the family's other chips, the runner factors from every other chip."""
    rows: list[Scored] = []
    chips = list(dict.fromkeys(o.chip.id for o in obs if o.fit))
    for chip_id in chips:
        train = [o for o in obs if o.fit and o.chip.id != chip_id]
        test = [o for o in obs if o.fit and o.chip.id == chip_id]
        fam = test[0].chip.family
        same = [o for o in train if o.chip.family == fam and o.runner == "llama.cpp"]
        if not same:
            continue  # the family's only chip: nothing left to fit on, so no honest prediction
        fams = {fam: fit_family(catalog.families[fam], same, label="loo")}
        fitted = with_families(catalog, fams)
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
        est = estimate(o.chip, catalog, o.model, replace(o.workload(), runner="llama.cpp"))
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


def families_yaml(families: dict[str, Family]) -> str:
    """The fitted factors as the ``families:`` entries of configs/chips.yaml."""
    lines = []
    for name, f in sorted(families.items()):
        lines.append(f"  {name}:")
        lines.append(f"    decode_bw_eff: {f.decode_bw_eff}")
        lines.append(f"    decode_layer_ms: {f.decode_layer_ms}")
        lines.append(f"    prefill_eff: {f.prefill_eff}")
        lines.append(f"    fitted_on: {f.fitted_on}")
    return "\n".join(lines) + "\n"


def summary(report: Report) -> dict[str, Any]:
    return {
        "decode_median_ape": round(report.median_ape("decode"), 2),
        "prefill_median_ape": round(report.median_ape("prefill"), 2),
        "decode_rows": report.count("decode"),
        "prefill_rows": report.count("prefill"),
    }
