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
from llmbox.results import BenchReport, CaseResult, Stat

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


def _median(summary: dict[str, Stat], metric: str) -> float | None:
    stat = summary.get(metric)
    return stat.median if stat is not None and stat.median > 0 else None


def _model(result: CaseResult, models: ModelCatalog) -> ModelSpec:
    name = result.model
    info = result.model_info
    spec = models.get(name)
    quant = info.quantization
    if spec is not None:
        if quant:
            from llmbox.hw.models import with_quant

            try:
                spec = with_quant(spec, quant)
            except UsageError:
                pass
        return spec
    if not info.parameter_size:
        raise UsageError(
            f"bench result for {name!r}: the model is not in the catalog and the result has no "
            "model_info.parameter_size",
            hint="add the model to configs/models.yaml",
        )
    return from_params(info.parameter_size, quant or "Q4_K_M")


def observations(bench: BenchReport, chip: Chip, models: ModelCatalog) -> list[Observation]:
    out = []
    for result in bench.results:
        case = result.case
        prefill = _median(result.summary, "prefill_tps")
        decode = _median(result.summary, "decode_tps")
        if prefill is None and decode is None:
            continue
        out.append(
            Observation(
                chip=chip,
                model=_model(result, models),
                pp=int(case.prompt_tokens or 0),
                tg=int(case.max_tokens or 0),
                prefill_tps=prefill,
                decode_tps=decode,
                images=case.images,
                source="bench",
            )
        )
    return out


def calibrate(
    bench: BenchReport, catalog: Catalog, models: ModelCatalog, chip_name: str | None
) -> Calibration:
    """Fit ``chip``'s family to the bench results and compare predictions before and after."""
    machine = bench.machine
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
