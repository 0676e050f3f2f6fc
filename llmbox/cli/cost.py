"""``llmbox cost``: does running the model locally pay off against a hosted API?

Only typer, the shared options and the dependency-free defaults are imported up front.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmbox.cli._common import DataFormat, FormatOpt, QuietOpt
from llmbox.cost import defaults as d

if TYPE_CHECKING:
    from llmbox.cost.local import CaseSpeed
    from llmbox.cost.model import Speed
    from llmbox.hw.chips import Chip
    from llmbox.report.output import Output
    from llmbox.results import BenchReport


def _opt(flag: str, text: str) -> object:
    return typer.Option(flag, help=text, show_default=False)


def cost(
    from_bench: Annotated[
        Path | None, _opt("--from-bench", "Local speed (and power) from `llmbox bench -f json`.")
    ] = None,
    run: Annotated[
        str | None,
        _opt("--run", "Local speed (and power) from a stored run: its ID, or last."),
    ] = None,
    db: Annotated[
        str | None,
        _opt(
            "--db",
            "The results store --run reads: sqlite:///PATH or postgresql://… "
            "(default: $LLMBOX_DB, else history.db in your data directory).",
        ),
    ] = None,
    chip: Annotated[
        str | None,
        _opt(
            "--chip",
            "The machine: catalog chip (m4pro, 4090). With --model alone, the speed is "
            "estimated; with --from-bench or --run, the chip the run was measured on.",
        ),
    ] = None,
    model: Annotated[
        str | None, _opt("--model", "Model tag (estimate), or which model of the report.")
    ] = None,
    watts: Annotated[
        float | None,
        _opt("--watts", "Power while generating (W). Default: measured, else catalog board power."),
    ] = None,
    kwh_price: Annotated[
        float | None,
        _opt(
            "--kwh-price",
            f"Electricity, USD per kWh. Default: {d.KWH_PRICE} ({d.KWH_PRICE_SOURCE}).",
        ),
    ] = None,
    hardware_price: Annotated[
        float | None,
        _opt(
            "--hardware-price",
            "Machine price in USD (0: already owned). Default: the catalog's launch price.",
        ),
    ] = None,
    amortize_years: Annotated[
        float | None,
        _opt("--amortize-years", f"Years to pay the machine off. Default: {d.AMORTIZE_YEARS:g}."),
    ] = None,
    hours_per_day: Annotated[
        float | None,
        _opt("--hours-per-day", f"Busy hours a day. Default: {d.HOURS_PER_DAY:g}."),
    ] = None,
    utilisation: Annotated[
        float | None,
        _opt(
            "--utilisation",
            f"Share of catalog board power drawn, when power was not measured. Default: "
            f"{d.UTILISATION:g}.",
        ),
    ] = None,
    tokens_per_day: Annotated[
        str | None,
        _opt(
            "--tokens-per-day",
            "Usage: 2M (split like the measured answer) or in=1.5M,out=500k.",
        ),
    ] = None,
    spend: Annotated[
        str | None, _opt("--spend", "Usage as today's API bill: 20/day, 600/month, 140/week.")
    ] = None,
    api: Annotated[
        str | None, _opt("--api", "Hosted API to compare with (see --list-apis).")
    ] = None,
    api_price: Annotated[
        str | None,
        _opt("--api-price", "Or its price, USD per M tokens: in=3,out=15[,cached=0.3]."),
    ] = None,
    cached_share: Annotated[
        float | None,
        _opt(
            "--cached-share",
            f"Share of input tokens the API serves from its cache. Default: {d.CACHED_SHARE:g}.",
        ),
    ] = None,
    list_apis: Annotated[
        bool, typer.Option("--list-apis", help="List the known API prices and exit.")
    ] = False,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Energy and money per token, local vs a hosted API: break-even and payback.

    Example: llmbox cost --chip m4pro --model qwen3:30b-a3b --api claude-sonnet-4-6 --spend 20/day
    """
    from llmbox.cost.plan import Flags
    from llmbox.report.output import Output

    out = Output(quiet=quiet)
    if list_apis:
        _list_apis(format, out)
        return
    flags = Flags(
        watts=watts,
        kwh_price=kwh_price,
        hardware_price=hardware_price,
        amortize_years=amortize_years,
        hours_per_day=hours_per_day,
        utilisation=utilisation,
        tokens_per_day=tokens_per_day,
        spend=spend,
        api=api,
        api_price=api_price,
        cached_share=cached_share,
    )
    from llmbox.cost.plan import check_flags

    check_flags(flags)  # flag mistakes first, before any file is read
    if from_bench is not None and run is not None:
        from llmbox.errors import UsageError

        raise UsageError("give --from-bench or --run, not both", hint="--run last reads the store")
    if db is not None and run is None:
        from llmbox.errors import UsageError

        raise UsageError("--db is where --run looks", hint="add --run ID or --run last")
    measured = _measured(from_bench, run, db, model, out)
    speed, case, the_chip, label = _local_side(measured, chip, model, out)
    from llmbox.cost.model import as_dict, compute
    from llmbox.cost.plan import build
    from llmbox.cost.prices import load_prices

    book = load_prices() if api else None
    result = compute(build(flags, speed, case=case, chip=the_chip, book=book))
    if format is DataFormat.json:
        out.json(as_dict(result, label=label, chip=the_chip.id if the_chip else None))
        return
    from llmbox.report.cost import render_cost

    out.data(render_cost(result, label))


def _measured(
    from_bench: Path | None, run: str | None, db: str | None, model: str | None, out: Output
) -> BenchReport | None:
    """The benchmark report the local side is measured from: a file, a stored run, or none."""
    if from_bench is not None:
        from llmbox.results import BenchReport

        return BenchReport.load(from_bench)
    if run is not None:
        from llmbox.cost.local import stored_report
        from llmbox.results import shown_time

        run_id, report = stored_report(run, db=db, model=model)
        models = ", ".join(dict.fromkeys(r.model for r in report.results))
        out.info(f"run {run_id}: {models}, started {shown_time(report.started_at)}")
        return report
    return None


def _local_side(
    report: BenchReport | None, chip: str | None, model: str | None, out: Output
) -> tuple[Speed, CaseSpeed | None, Chip | None, str]:
    from llmbox.errors import UsageError
    from llmbox.hw.chips import load_catalog

    catalog = load_catalog()
    if report is not None:
        from llmbox.cost.local import best_case, report_chip

        name, best, cases = best_case(report, model)
        the_chip = report_chip(report, catalog, chip)
        if len(cases) > 1:
            others = ", ".join(f"'{c.label}' {c.speed.output_tps:.1f}" for c in cases)
            out.info(f"output tok/s per case: {others}; using the fastest, '{best.label}'")
        where = the_chip.name if the_chip else str(report.machine.get("cpu") or "this machine")
        return best.speed, best, the_chip, f"{name} on {where}"
    if chip is None or model is None:
        raise UsageError(
            "where does the local speed come from?",
            hint="give --run last (the results store), --from-bench FILE, or --chip X --model Y "
            "for an estimate",
        )
    from llmbox.cost.local import estimate_speed
    from llmbox.hw.calibrate import apply_saved
    from llmbox.hw.estimate import Workload, estimate
    from llmbox.hw.models import load_models

    the_chip = catalog.resolve(chip)
    spec = load_models().resolve(model)
    workload = Workload()
    est = estimate(the_chip, apply_saved(catalog, workload.runner), spec, workload)
    for note in est.notes:
        out.info(f"estimate: {note}")
    return estimate_speed(est), None, the_chip, f"{spec.name} on {the_chip.name} (estimated)"


def _list_apis(format: DataFormat, out: Output) -> None:
    from llmbox.cost.prices import load_prices

    book = load_prices()
    rows = [p.model_dump(mode="json") | {"origin": p.origin} for p in book.prices.values()]
    if format is DataFormat.json:
        out.json(rows)
        return
    lines = [f"{'name':28} {'in':>7} {'cached':>7} {'out':>7}  date        source"]
    for p in book.prices.values():
        cached = f"{p.cached_input:g}" if p.cached_input is not None else "-"
        date = p.date.isoformat() if p.date else "-"
        mark = " (yours)" if p.origin == "user" else ""
        lines.append(
            f"{p.name:28} {p.input:7g} {cached:>7} {p.output:7g}  {date:10}  {p.source}{mark}"
        )
    lines.append("USD per million tokens; files: " + ", ".join(str(f) for f in book.files))
    out.data("\n".join(lines))
