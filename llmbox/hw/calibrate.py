"""Anchoring estimates to the user's own ``llmbox bench`` results.

* :func:`calibrate` fits a chip family's factors for one runner to a bench report (single-request
  cases only, optionally one model), rejects fits no chip could produce, and can be saved
  (:func:`save`) so later estimates on that family and runner use them (:func:`apply_saved`).
* :func:`from_bench` answers "I measured this here; what will that chip do?": each measured case
  scaled by the ratio of the two chips' modelled speeds for the same model and case.

The report is :class:`llmbox.results.BenchReport` (``BenchReport.load(path)``); :func:`_field`
reads its fields (and the ``machine`` mapping) by name.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog, Chip, Family, Runner
from llmbox.hw.estimate import GIB, estimate
from llmbox.hw.fit import Observation, Report, fit_family, score, with_families
from llmbox.hw.models import ModelCatalog, ModelSpec, from_params

if TYPE_CHECKING:  # the report model (pydantic) is loaded only by the commands that read one
    from llmbox.results import BenchReport

BENCH_SCHEMA = "llmbox.bench/1"
CALIBRATION_SCHEMA = "llmbox.hw-calibration/1"
#: What a fit may claim before it is physically impossible: no chip streams more than its peak
#: bandwidth; llama.cpp's int8 kernels reach ~1.2x the FP16 peak on GeForce, none 2.5x.
LIMITS = {"decode_bw_eff": (0.02, 1.05), "prefill_eff": (0.005, 2.5), "decode_layer_ms": (0, 5)}
#: Which runner produced a report, by its ``backend`` field.
_BACKEND_RUNNER = {"ollama": "ollama", "embedded": "llama.cpp"}


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _median(summary: Any, metric: str) -> float | None:
    value = _field(_field(summary, metric), "median")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


@dataclass(frozen=True)
class Calibration:
    chip: Chip
    runner: str
    before: Family
    after: Family
    before_report: Report
    after_report: Report
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for b, a in zip(self.before_report.rows, self.after_report.rows, strict=True):
            o = b.obs
            rows.append(
                {
                    "model": o.model.name,
                    "prompt_tokens": o.pp,
                    "gen_tokens": o.tg,
                    "measured": {"prefill_tps": o.prefill_tps, "decode_tps": o.decode_tps},
                    "predicted_before": _pair(b.prefill_pred, b.decode_pred),
                    "predicted_after": _pair(a.prefill_pred, a.decode_pred),
                }
            )
        return {
            "chip": {"id": self.chip.id, "name": self.chip.name, "family": self.after.name},
            "runner": self.runner,
            "factors_before": _factors(self.before),
            "factors_after": _factors(self.after),
            "rows": rows,
            "skipped": list(self.skipped),
        }


def _pair(prefill: float | None, decode: float | None) -> dict[str, float | None]:
    return {
        "prefill_tps": round(prefill, 2) if prefill is not None else None,
        "decode_tps": round(decode, 2) if decode is not None else None,
    }


def _factors(f: Family) -> dict[str, Any]:
    return {
        "decode_bw_eff": f.decode_bw_eff,
        "decode_layer_ms": f.decode_layer_ms,
        "prefill_eff": f.prefill_eff,
    }


def _model(result: Any, models: ModelCatalog) -> ModelSpec:
    name = str(_field(result, "model", ""))
    info = _field(result, "model_info")
    spec = models.get(name)
    quant = _field(info, "quantization")
    if spec is not None:
        if quant:
            from llmbox.hw.models import with_quant

            try:
                spec = with_quant(spec, str(quant))
            except UsageError:
                pass
        return spec
    size = _field(info, "parameter_size")
    if not size:
        raise UsageError(
            f"bench result for {name!r}: the model is not in the catalog and the result has no "
            "model_info.parameter_size",
            hint="add the model to configs/models.yaml",
        )
    return replace(from_params(str(size), str(quant or "Q4_K_M")), name=name)


def report_runner(bench: BenchReport, runner: str | None) -> str:
    """The runner that produced the report: ``--runner``, else its backend's."""
    if runner:
        return runner
    return _BACKEND_RUNNER.get(str(_field(bench, "backend", "ollama")), "llama.cpp")


def observations(
    bench: BenchReport,
    chip: Chip,
    models: ModelCatalog,
    *,
    model: str | None = None,
    runner: str = "ollama",
    fitting: bool = False,
) -> tuple[list[Observation], list[str]]:
    """Single-request cases of the report (of ``model`` if given) as observations on ``chip``;
    and a line for each case left out, saying why. ``fitting`` leaves out what a fit of the GPU's
    factors cannot use: cases split between CPU and GPU, and the prompt time of cases with images
    (the vision encoder's time is in it)."""
    from llmbox.names import same_model

    memory = _field(_field(bench, "machine"), "memory_bytes")
    memory_gb = round(memory / GIB) if isinstance(memory, (int, float)) and memory > 0 else None
    out: list[Observation] = []
    skipped: list[str] = []
    for result in _field(bench, "results") or []:
        case = _field(result, "case")
        name = str(_field(result, "model", ""))
        label = f"{name} {_field(case, 'label', '')}".strip()
        if model and not same_model(name, model):
            continue
        if int(_field(case, "concurrency", 1) or 1) != 1:
            skipped.append(f"{label}: concurrency {_field(case, 'concurrency')}, not one request")
            continue
        summary = _field(result, "summary")
        prefill, decode = _median(summary, "prefill_tps"), _median(summary, "decode_tps")
        if prefill is None and decode is None:
            skipped.append(f"{label}: no successful runs")
            continue
        processor = str(_field(_field(result, "model_info"), "processor", "") or "")
        if fitting and chip.kind != "cpu" and "CPU" in processor:
            skipped.append(f"{label}: ran {processor}, not wholly on the GPU")
            continue
        images = _field(case, "images", 0) or 0
        pp = _field(case, "prompt_tokens") or _prompt_counted(result)
        if fitting and images and prefill is not None:
            skipped.append(f"{label}: prefill left out (its time holds the vision encoder's)")
            prefill = None
            if decode is None:
                continue
        out.append(
            Observation(
                chip=chip,
                model=_model(result, models),
                pp=int(pp) if pp else 0,
                tg=int(_field(case, "max_tokens", 0) or 0),
                prefill_tps=prefill if pp else None,  # no length given, none counted
                decode_tps=decode,
                images=len(images) if isinstance(images, (list, tuple)) else int(images),
                memory_gb=memory_gb,
                context=_field(case, "num_ctx"),
                source="bench",
                runner=runner,
            )
        )
    if model and not out and not skipped:
        names = sorted({str(_field(r, "model", "")) for r in _field(bench, "results") or []})
        raise UsageError(
            f"the bench file has no results for --model {model}",
            hint="models in the file: " + (", ".join(names) or "none"),
        )
    return out, skipped


def _prompt_counted(result: Any) -> int | None:
    """The prompt length the server counted (median of the good runs): what a literal prompt,
    a prompt file or a dataset case measured, where the case gives no length."""
    from statistics import median

    counts = [
        int(n)
        for run in _field(result, "runs") or []
        if not _field(run, "error")
        and isinstance(n := _field(run, "prompt_eval_count"), int)
        and n > 0
    ]
    return round(median(counts)) if counts else None


def bench_chip(bench: BenchReport, catalog: Catalog, chip_name: str | None) -> Chip:
    """The chip the report was measured on: ``--from-chip``, else the Apple chip or the first
    NVIDIA GPU the report names, else this machine, but only if the report was made here."""
    if chip_name:
        return catalog.resolve(chip_name)
    import platform

    machine = _field(bench, "machine")
    gpus = _field(machine, "gpus") or []
    named = _field(machine, "chip") or (_field(gpus[0], "name") if gpus else None)
    if named:
        try:
            return catalog.resolve(str(named))
        except UsageError:
            raise UsageError(
                f"the bench file was measured on {named!r}, which the chip catalog does not know",
                hint="give the closest catalog chip with --from-chip (`llmbox chips` lists them)",
            ) from None
    host = _field(machine, "hostname")
    if host and host != platform.node():
        cpu = _field(machine, "cpu")
        raise UsageError(
            f"the bench file was measured on another machine ({host}"
            + (f", {cpu}" if cpu else "")
            + ") and does not name its chip",
            hint="give the chip it ran on with --from-chip, e.g. --from-chip m2",
        )
    return catalog.resolve("this")


def _catalog_for(catalog: Catalog, family: Family, runner: str) -> Catalog:
    """``catalog`` with ``family`` as fitted for ``runner``: the runner's own factor for that
    family becomes 1 (the fit has absorbed it)."""
    fitted = with_families(catalog, {family.name: family})
    base = catalog.runners.get(runner) or Runner(runner)
    neutral = replace(
        base,
        decode={**base.decode, family.name: 1.0},
        prefill={**base.prefill, family.name: 1.0},
    )
    return replace(fitted, runners={**catalog.runners, runner: neutral})


def calibrate(
    bench: BenchReport,
    catalog: Catalog,
    models: ModelCatalog,
    chip_name: str | None,
    *,
    model: str | None = None,
    runner: str | None = None,
) -> Calibration:
    """Fit ``chip``'s family for the report's runner; compare predictions before and after."""
    chip = bench_chip(bench, catalog, chip_name)
    run = report_runner(bench, runner)
    obs, skipped = observations(bench, chip, models, model=model, runner=run, fitting=True)
    if not obs:
        raise UsageError(
            "the bench file has no single-request results with prefill_tps or decode_tps medians"
            + (" to fit: " + "; ".join(skipped[:2]) if skipped else ""),
            hint="run `llmbox bench MODEL -f json` (concurrency 1, a model that fits in GPU "
            "memory) with at least one good run",
        )
    before = catalog.family(chip)
    # Fit what llama-bench would have to do to give these numbers through this runner.
    after = fit_family(
        before, obs, label=f"calibrated on {len(obs)} bench results ({run}, {chip.id})"
    )
    calibrated = _catalog_for(catalog, after, run)
    after_report = score(obs, calibrated)
    check_possible(_implied(after, after_report), chip)
    return Calibration(chip, run, before, after, score(obs, catalog), after_report, tuple(skipped))


def _implied(family: Family, report: Report) -> Family:
    """The factors the measurements imply, before the fit's own clamps (it never lets the
    bandwidth share pass 1): the fitted factor times how far the fit still falls short."""
    from statistics import median

    def short(metric: str) -> float:
        ratios = [
            m / p
            for r in report.rows
            for m, p in [(getattr(r.obs, f"{metric}_tps"), getattr(r, f"{metric}_pred"))]
            if m and p
        ]
        return median(ratios) if ratios else 1.0

    return replace(
        family,
        decode_bw_eff=family.decode_bw_eff * short("decode"),
        prefill_eff=family.prefill_eff * short("prefill"),
    )


def check_possible(family: Family, chip: Chip) -> None:
    """A fit no chip could produce means the file or ``--chip`` is wrong: say which factor."""
    for name, (low, high) in LIMITS.items():
        value = getattr(family, name)
        if not low <= value <= high:
            what = {
                "decode_bw_eff": f"{value:.0%} of {chip.name}'s peak memory bandwidth",
                "prefill_eff": f"{value:.0%} of {chip.name}'s FP16 compute",
                "decode_layer_ms": f"{value:g} ms per layer per token",
            }[name]
            raise UsageError(
                f"the bench results imply {what}: no chip does that, so the file was not "
                f"measured on a {chip.name} (or the model is not what the file says)",
                hint="give the chip it ran on with --chip; check the model and quantization",
            )


# --- saved calibrations ---------------------------------------------------------------------------


def calibration_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llmbox" / "hw-calibration.json"


def _read_saved(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"schema": CALIBRATION_SCHEMA, "families": {}}
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot read the saved calibration {path}: {err}",
            hint=f"delete {path} and calibrate again",
        ) from None
    if not isinstance(data, dict) or data.get("schema") != CALIBRATION_SCHEMA:
        raise UsageError(
            f"{path} is not an llmbox calibration file", hint=f"delete {path} and calibrate again"
        )
    return data


def save(cal: Calibration, path: Path | None = None) -> Path:
    """Store the fitted factors for the chip's family and runner (atomically)."""
    path = path or calibration_path()
    data = _read_saved(path)
    key = f"{cal.after.name}/{cal.runner}"
    data.setdefault("families", {})[key] = {
        **_factors(cal.after),
        "fitted_on": cal.after.fitted_on,
        "chip": cal.chip.id,
        "saved_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def apply_saved(catalog: Catalog, runner: str, path: Path | None = None) -> Catalog:
    """``catalog`` with every family calibrated for ``runner`` replaced by its saved factors."""
    path = path or calibration_path()
    if not path.is_file():
        return catalog
    data = _read_saved(path)
    out = catalog
    for key, entry in (data.get("families") or {}).items():
        family, _, run = str(key).partition("/")
        if run != runner or family not in catalog.families or not isinstance(entry, dict):
            continue
        try:
            fam = replace(
                catalog.families[family],
                decode_bw_eff=float(entry["decode_bw_eff"]),
                decode_layer_ms=float(entry["decode_layer_ms"]),
                prefill_eff=float(entry["prefill_eff"]),
                fitted_on=str(entry.get("fitted_on", "calibrated")),
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError(
                f"{path}: entry {key!r} is damaged", hint=f"delete {path} and calibrate again"
            ) from None
        out = _catalog_for(out, fam, runner)
    return out


# --- from a measurement on one chip to another ------------------------------------------------


@dataclass(frozen=True)
class Scaled:
    obs: Observation
    target: Chip
    prefill_tps: float | None
    decode_tps: float | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        o = self.obs

        def r(v: float | None) -> float | None:
            return round(v, 2) if v is not None and math.isfinite(v) else None

        return {
            "model": o.model.name,
            "prompt_tokens": o.pp,
            "gen_tokens": o.tg,
            "images": o.images,
            "measured_on": {"id": o.chip.id, "name": o.chip.name},
            "measured": {"prefill_tps": o.prefill_tps, "decode_tps": o.decode_tps},
            "chip": {"id": self.target.id, "name": self.target.name},
            "predicted": {"prefill_tps": r(self.prefill_tps), "decode_tps": r(self.decode_tps)},
            "notes": list(self.notes),
        }


def from_bench(
    bench: BenchReport,
    catalog: Catalog,
    models: ModelCatalog,
    target: Chip,
    *,
    source_chip: str | None = None,
    model: str | None = None,
    runner: str | None = None,
    memory_gb: float | None = None,
) -> tuple[list[Scaled], list[str]]:
    """Each single-request case measured on the report's chip, scaled to ``target``: measured x
    (modelled speed on target / modelled speed on the source), same model, case and runner."""
    source = bench_chip(bench, catalog, source_chip)
    run = report_runner(bench, runner)
    obs, skipped = observations(bench, source, models, model=model, runner=run)
    if not obs:
        raise UsageError(
            "the bench file has no single-request results to scale",
            hint="run `llmbox bench MODEL -f json` (concurrency 1) with at least one good run",
        )
    out = []
    for o in obs:
        here = estimate(source, catalog, o.model, o.workload())
        there_w = replace(o.workload(), memory_gb=memory_gb)
        there = estimate(target, catalog, o.model, there_w)
        pre = None
        # The server's prompt time holds the vision encoder's too: scale the two together.
        here_s, there_s = here.prefill_s + here.image_s, there.prefill_s + there.image_s
        if o.prefill_tps and math.isfinite(here_s) and math.isfinite(there_s) and there_s > 0:
            pre = o.prefill_tps * here_s / there_s
        dec = o.decode_tps * there.decode_tps / here.decode_tps if o.decode_tps else None
        notes = []
        if there.memory.verdict != "fits":
            notes.append(f"on {target.name}: {there.memory.verdict} ({there.memory.processor})")
        if here.memory.verdict != "fits":
            notes.append(f"measured with {here.memory.processor} on {source.name}")
        out.append(Scaled(o, target, pre, dec, tuple(notes)))
    return out, skipped
