"""How far `llmbox hw-estimate` is from published measurements: median absolute % error.

    python benchmarks/hw_validation.py            # table + error figures
    python benchmarks/hw_validation.py --fit      # refit the family factors, print them as YAML
    python benchmarks/hw_validation.py --json     # the figures as JSON

Rows: configs/hw_validation.yaml (each cites its source). Three sets of figures are printed:
llmbox with the shipped factors (fitted on these rows: in-sample), llmbox with each chip left out
of its family's fit (out-of-sample), and the naive rule (bandwidth / size and TFLOPS / 2P, one
constant each).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from llmbox.config import configs_dir
from llmbox.hw import fit as F
from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models

TARGET_DECODE = 10.0
TARGET_PREFILL = 20.0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:5.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=configs_dir() / "hw_validation.yaml")
    parser.add_argument("--fit", action="store_true", help="print refitted family factors")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quiet", action="store_true", help="only the error figures")
    args = parser.parse_args(argv)

    catalog, models = load_catalog(), load_models()
    obs, _sources = F.load_observations(args.table, catalog, models)
    if args.fit:
        families = F.fit_all(obs, catalog)
        sys.stdout.write("families:\n" + F.families_yaml(families))
        fitted = F.with_families(catalog, families)
        sys.stdout.write("runners:\n" + F.runners_yaml(F.fit_runners(obs, fitted)))
        return 0
    shipped = F.score(obs, catalog)
    loo = F.leave_one_chip_out(obs, catalog)
    naive = F.naive(obs)
    families = sorted({o.chip.family for o in obs if o.fit})

    def per_family(report: F.Report) -> dict[str, dict[str, float]]:
        out = {}
        for fam in families:

            def pick(o: F.Observation, fam: str = fam) -> bool:
                return o.chip.family == fam

            out[fam] = {
                "decode": round(report.median_ape("decode", pick), 2),
                "prefill": round(report.median_ape("prefill", pick), 2),
            }
        return out

    figures = {
        "llmbox": F.summary(shipped),
        "llmbox_leave_one_chip_out": F.summary(loo),
        "naive": F.summary(naive),
        "llmbox_by_family": per_family(shipped),
        "naive_by_family": per_family(naive),
        "targets": {"decode": TARGET_DECODE, "prefill": TARGET_PREFILL},
    }
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return 0
    out = sys.stdout.write
    if not args.quiet:
        out(
            f"{'chip':18} {'model':22} {'quant':7} {'pp t/s':>8} {'pred':>8} {'err':>6}  "
            f"{'tg t/s':>8} {'pred':>8} {'err':>6}  source\n"
        )
        for r in shipped.rows:
            o = r.obs
            mark = "" if o.fit else "  (not fitted)"
            out(
                f"{o.chip.id:18} {o.model.name:22} {o.model.quant:7} {_num(o.prefill_tps)} "
                f"{_num(r.prefill_pred)} {_pct(r.prefill_ape):>6}  {_num(o.decode_tps)} "
                f"{_num(r.decode_pred)} {_pct(r.decode_ape):>6}  {o.source}{mark}\n"
            )
        out("\n")

    def line(name: str, s: dict[str, float]) -> None:
        out(
            f"{name:34} decode {s['decode_median_ape']:5.1f}%  prefill "
            f"{s['prefill_median_ape']:5.1f}%   ({s['decode_rows']} / {s['prefill_rows']} rows)\n"
        )

    out("median absolute percentage error\n")
    line("llmbox (shipped factors)", figures["llmbox"])
    line("llmbox (leave one chip out)", figures["llmbox_leave_one_chip_out"])
    line("naive rule (one constant each)", figures["naive"])
    out("\nby family            llmbox decode / prefill     naive decode / prefill\n")
    for fam in families:
        a, b = figures["llmbox_by_family"][fam], figures["naive_by_family"][fam]
        out(
            f"  {fam:18} {a['decode']:8.1f}% / {a['prefill']:5.1f}%"
            f"       {b['decode']:8.1f}% / {b['prefill']:5.1f}%\n"
        )
    field: Callable[[F.Scored], bool] = lambda r: not r.obs.fit  # noqa: E731
    for r in filter(field, shipped.rows):
        o = r.obs
        out(f"\nnot fitted: {o.label} ({o.note})\n")
        if o.decode_tps and r.decode_pred:
            out(f"  decode  measured {o.decode_tps:.2f} t/s, predicted {r.decode_pred:.2f} t/s\n")
        if o.prompt_eval_s and r.prompt_s_pred:
            out(f"  prompt  measured {o.prompt_eval_s:.3f} s, predicted {r.prompt_s_pred:.3f} s\n")
    ok = (
        figures["llmbox"]["decode_median_ape"] <= TARGET_DECODE
        and figures["llmbox"]["prefill_median_ape"] <= TARGET_PREFILL
    )
    out(f"\ntargets: decode <= {TARGET_DECODE:g}%, prefill <= {TARGET_PREFILL:g}%: ")
    out("met\n" if ok else "NOT met\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
