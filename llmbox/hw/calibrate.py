"""Calibration on this machine: fit the chip family's factors to ``llmbox bench`` results.

Reads the bench JSON (schema ``llmbox.bench/1``): per result the model, the case (prompt tokens,
max tokens, images) and the summary medians of ``prefill_tps`` and ``decode_tps``. The chip is
``machine.chip`` when the bench recorded one, else the one given (``--chip``), else this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmbox.errors import UsageError
from llmbox.hw.chips import Catalog, Chip, Family
from llmbox.hw.fit import Observation, Report, fit_family, score, with_families
from llmbox.hw.models import ModelCatalog, ModelSpec, from_params

BENCH_SCHEMA = "llmbox.bench/1"


@dataclass(frozen=True)
class Calibration:
    chip: Chip
    before: Family
    after: Family
    before_report: Report
    after_report: Report

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
            "factors_before": _factors(self.before),
            "factors_after": _factors(self.after),
            "rows": rows,
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


def _median(summary: Any, metric: str) -> float | None:
    block = summary.get(metric) if isinstance(summary, dict) else None
    value = block.get("median") if isinstance(block, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _model(result: dict[str, Any], models: ModelCatalog) -> ModelSpec:
    name = str(result.get("model", ""))
    info = result.get("model_info") or {}
    spec = models.get(name)
    quant = info.get("quantization")
    if spec is not None:
        if quant:
            from llmbox.hw.models import with_quant

            try:
                spec = with_quant(spec, str(quant))
            except UsageError:
                pass
        return spec
    size = info.get("parameter_size")
    if not size:
        raise UsageError(
            f"bench result for {name!r}: the model is not in the catalog and the result has no "
            "model_info.parameter_size",
            hint="add the model to configs/models.yaml",
        )
    return from_params(str(size), str(quant or "Q4_K_M"))


def observations(bench: dict[str, Any], chip: Chip, models: ModelCatalog) -> list[Observation]:
    out = []
    for result in bench.get("results") or []:
        case = result.get("case") or {}
        summary = result.get("summary") or {}
        prefill, decode = _median(summary, "prefill_tps"), _median(summary, "decode_tps")
        if prefill is None and decode is None:
            continue
        images = case.get("images") or 0
        out.append(
            Observation(
                chip=chip,
                model=_model(result, models),
                pp=int(case.get("prompt_tokens") or 0),
                tg=int(case.get("max_tokens") or 0),
                prefill_tps=prefill,
                decode_tps=decode,
                images=len(images) if isinstance(images, list) else int(images),
                source="bench",
            )
        )
    return out


def calibrate(
    bench: dict[str, Any], catalog: Catalog, models: ModelCatalog, chip_name: str | None
) -> Calibration:
    """Fit ``chip``'s family to the bench results and compare predictions before and after."""
    machine = bench.get("machine") or {}
    name = chip_name or machine.get("chip") or "this"
    chip = catalog.resolve(str(name))
    obs = observations(bench, chip, models)
    if not obs:
        raise UsageError(
            "the bench file has no results with prefill_tps or decode_tps medians",
            hint="run `llmbox bench MODEL -f json` with at least one successful run",
        )
    before = catalog.family(chip)
    after = fit_family(before, obs, label=f"calibrated on {len(obs)} bench results")
    calibrated = with_families(catalog, {after.name: after})
    return Calibration(chip, before, after, score(obs, catalog), score(obs, calibrated))
