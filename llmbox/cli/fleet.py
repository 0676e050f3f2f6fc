"""``llmbox fleet``: many Ollama hosts from an inventory, operated and benchmarked as one.

``hosts`` lists the inventory, ``status`` asks every host at once, ``sync`` brings each host to
its groups' model set (a rolling update), ``bench`` runs the same benchmark on every host. All
work happens in ``llmbox.fleet``; the views are in ``llmbox.report.fleet``.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from llmbox.cli._app import DebugOpt
from llmbox.cli._common import DataFormat, FormatOpt, QuietOpt, TimeoutOpt
from llmbox.fleet import defaults as fd

InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        help=f"Inventory: llmbox's fleet YAML or an Ansible inventory (INI or YAML) "
        f"(default ./{fd.INVENTORY}).",
        show_default=False,
    ),
]
SelectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        "-s",
        help="Hosts to act on: label=value, a group or a host (globs allowed); a comma list adds, "
        "&TERM keeps only, !TERM leaves out. Repeatable. Default: every host.",
        show_default=False,
    ),
]

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Operate and benchmark many Ollama hosts as one: status, sync and bench over an "
    "inventory.\n\nThe inventory (--inventory, default ./fleet.yaml) lists hosts with labels and "
    "machine facts, and groups with the models their hosts must hold; an Ansible inventory works "
    "too. See docs/fleet.md.",
)


@app.callback()
def fleet(ctx: typer.Context, quiet: QuietOpt = False, debug: DebugOpt = False) -> None:
    # The group's help is the app's (above); --quiet here quiets the subcommand.
    if quiet:  # `llmbox fleet -q status` = `llmbox fleet status -q`
        ctx.default_map = {name: {"quiet": True} for name in ("status", "sync", "bench")}


def _hosts(inventory: Path | None, select: list[str] | None) -> tuple[Any, list[Any]]:
    from llmbox.fleet import load_inventory
    from llmbox.fleet import select as choose

    inv = load_inventory(inventory)
    return inv, choose(inv, select or [])


@app.command("hosts")
def hosts_command(
    inventory: InventoryOpt = None,
    select: SelectOpt = None,
    format: FormatOpt = DataFormat.table,
) -> None:
    """List the inventory's hosts: URL, groups, labels, machine facts, model set. Asks no host."""
    from llmbox.report.fleet import render_hosts
    from llmbox.report.output import Output

    inv, chosen = _hosts(inventory, select)
    out = Output()
    if format is DataFormat.json:
        out.json({"inventory": inv.source, "hosts": [h.to_dict() for h in chosen]})
    else:
        out.data(render_hosts(inv, chosen))


@app.command("status")
def status(
    inventory: InventoryOpt = None,
    select: SelectOpt = None,
    parallel: Annotated[
        int, typer.Option(min=1, help=f"Hosts asked at once (default {fd.STATUS_PARALLEL}).")
    ] = fd.STATUS_PARALLEL,
    timeout: Annotated[
        float,
        typer.Option(help=f"Seconds a host may take to answer (default {fd.STATUS_TIMEOUT_S:g})."),
    ] = fd.STATUS_TIMEOUT_S,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Every host at once: reachable, version, models installed and loaded (CPU/GPU), free VRAM,
    what to fix; hosts that differ from their group (version, missing model, CPU spill).

    Exit codes: 0 every host healthy, 1 some host needs attention, 2 usage error, 3 no host
    answered.
    """
    from llmbox.cli._common import run
    from llmbox.fleet import fleet_status
    from llmbox.report.fleet import render_status
    from llmbox.report.output import Output

    _, chosen = _hosts(inventory, select)
    result = run(fleet_status(chosen, parallel=parallel, timeout=timeout))
    out = Output(quiet=quiet)
    if format is DataFormat.json:
        out.json(result.to_dict())
    else:
        out.data(render_status(result))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command("sync")
def sync(
    inventory: InventoryOpt = None,
    select: SelectOpt = None,
    max_parallel: Annotated[
        int,
        typer.Option(
            min=1, help=f"Hosts synced at once (default {fd.SYNC_PARALLEL}): a rolling update."
        ),
    ] = fd.SYNC_PARALLEL,
    stop_on_failure: Annotated[
        bool, typer.Option("--stop-on-failure", help="Start no more hosts once one has failed.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also remove models a host's groups do not list.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before pruning.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print each host's plan and change nothing.")
    ] = False,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Bring each host to its groups' model set: pull the missing, preload, optionally prune.

    A host's prune runs only if that host's pulls succeeded. Exit codes: 0 every host done, 1 some
    host failed (listed), 2 usage error, 3 no host reachable, 130 interrupted.
    """
    from llmbox.cli._common import run
    from llmbox.errors import UsageError
    from llmbox.fleet import apply_fleet_sync, plan_fleet_sync
    from llmbox.report.fleet import render_fleet_sync
    from llmbox.report.output import Output

    _, chosen = _hosts(inventory, select)
    out = Output(quiet=quiet)
    fleet = run(plan_fleet_sync(chosen, prune=prune, timeout=timeout))
    removals = sum(len(h.plan.to_remove) for h in fleet.hosts if h.plan is not None)
    if not dry_run and removals and not yes:
        import sys

        if not sys.stdin.isatty():
            raise UsageError(
                f"--prune would remove {removals} model(s) across the fleet; confirm with --yes",
                hint="see them first with --dry-run",
            )
        if not typer.confirm(f"Remove {removals} model(s) across the fleet?", err=True):
            dry_run = True
    if not dry_run:

        def progress(item: Any, event: Any) -> None:
            from llmbox.provision import PullStarted

            if event is None:
                out.info(
                    f"{item.host.name}: {item.state}" + (f" ({item.reason})" if item.failed else "")
                )
            elif isinstance(event, PullStarted) and event.attempt == 1:
                out.info(f"{item.host.name}: pulling {event.model}")

        fleet = run(
            apply_fleet_sync(
                fleet,
                max_parallel=max_parallel,
                stop_on_failure=stop_on_failure,
                timeout=timeout,
                on_event=progress,
            )
        )
    if format is DataFormat.json:
        out.json(fleet.to_dict())
    else:
        out.data(render_fleet_sync(fleet))
    if fleet.failed:
        out.warn("failed: " + ", ".join(h.host.name for h in fleet.failed))
    if fleet.exit_code:
        raise typer.Exit(fleet.exit_code)


# -- bench: `llmbox bench`'s own options, plus the fleet's ----------------------------------------

#: Options of `llmbox bench` that make no sense for a fleet of Ollama hosts (the inventory names the
#: servers, one format for the fleet's table, per-host files instead of -o).
_NOT_FOR_FLEETS = (
    "host", "backend", "api_key", "threads", "parallel", "ctx_size", "ignore_eos",
    "format", "output", "baseline", "max_regression", "quiet",
)  # fmt: skip


def bench(**kwargs: Any) -> None:
    """Benchmark every selected host with the same workload, in parallel across hosts.

    Takes `llmbox bench`'s options. Each host runs its own session (never two on one host); gates
    apply per host. Shows hosts × models and flags hosts much slower than their peers with the same
    chip, with the likely cause (CPU spill, other models loaded, power mode, memory). Each host's
    report is saved in the results store, tagged fleet_host=HOST, fleet_group and fleet_run.

    Exit codes: 0 ok, 1 some host failed, 2 usage error, 3 no host reachable, 5 a gate failed on
    some host (listed), 6 a report could not be saved, 130 interrupted, 143 terminated (SIGTERM);
    every host's results so far are saved.
    """
    from dataclasses import fields
    from enum import Enum

    from llmbox.bench.plan import BenchOptions
    from llmbox.bench.session import GateOptions
    from llmbox.fleet import fleet_bench
    from llmbox.report.fleet import render_fleet_bench
    from llmbox.report.output import Output

    _, chosen = _hosts(kwargs.pop("inventory"), kwargs.pop("select"))
    out = Output(quiet=kwargs.pop("quiet"))
    fmt, out_dir, parallel = kwargs.pop("format"), kwargs.pop("out_dir"), kwargs.pop("max_parallel")
    gates = GateOptions(
        fail_under=kwargs.pop("fail_under") or (), fail_over=kwargs.pop("fail_over") or ()
    )
    db, no_save, tags = kwargs.pop("db"), kwargs.pop("no_save"), kwargs.pop("tag") or ()
    db = (db or "").strip() or None  # blank: the default store, as for bench
    if no_save and tags:  # a bad --tag is a usage error as in bench, saving or not
        from llmbox.store._report import parse_tags

        parse_tags(tags)
    kwargs["images"] = kwargs.pop("image") or ()
    values = {
        f.name: (v.value if isinstance(v := kwargs[f.name], Enum) else v)
        for f in fields(BenchOptions)
        if f.name in kwargs
    }
    opts = BenchOptions(**values)

    def checkpoint(host: Any, report: Any) -> None:
        if out_dir is not None:
            from llmbox.report.exporters import write_atomic

            write_atomic(
                out_dir / f"{host.name}.json", report.model_dump_json(by_alias=True, indent=2)
            )

    def done(result: Any) -> None:
        saved = f", saved as run {result.saved.id}" if result.saved is not None else ""
        out.info(f"{result.host.name}: {result.state}{saved}")

    result = fleet_bench(
        chosen,
        opts,
        gates,
        parallel=parallel,
        checkpoint=checkpoint,
        on_done=done,
        history=None if no_save else _store_for(db, tags),
    )
    if fmt is DataFormat.json:
        out.json(result.to_dict())
    else:
        out.data(render_fleet_bench(result))
    _keep_unsaved(result, out_dir, db, tags)
    _tell_saved(result, db, out)
    if result.interrupted:
        what = "terminated" if result.terminated else "interrupted"
        out.warn(f"{what}: each host's results so far are {_kept_where(result, out_dir)}")
    if result.exit_code:
        raise typer.Exit(result.exit_code)
    for host in result.store_errors:  # measured and shown, but not kept: exit 6
        if host.store_error is not None:
            raise host.store_error


def _kept_where(result: Any, out_dir: Path | None) -> str:
    """Where an interrupted fleet's results are: the files and the store only where they are
    (a host whose save failed is warned about above)."""
    places = [f"written to {out_dir}/"] if out_dir is not None else []
    if any(h.saved is not None for h in result.hosts) and not result.store_errors:
        places.append("saved")
    return " and ".join(places) if places else "shown above"


def _store_for(db: str | None, tags: Sequence[str]) -> Any:
    """Each host's history: the results store at ``db``, with the user's tags and the fleet's
    (a bad --tag is a usage error now, before any host runs)."""
    from llmbox.store.bench import StoreHistory

    base = StoreHistory(db, tags=tags)

    def history(_: Any, fleet_tags: dict[str, str], stopped: Callable[[], bool]) -> StoreHistory:
        mine = StoreHistory(db, stopped=stopped)
        mine.tags = {**base.tags, **fleet_tags}
        return mine

    return history


def _keep_unsaved(result: Any, out_dir: Path | None, db: str | None, tags: Sequence[str]) -> None:
    """A host whose report the store did not take: its error says which file holds the report
    (its --out-dir file, else a new one, as bench writes) and the import that adds it later with
    the tags it would have had."""
    from llmbox.cli._bench_run import _rescue, import_command
    from llmbox.fleet._bench import host_tags

    for h in result.store_errors:
        if h.report is None:
            continue
        path = out_dir / f"{h.host.name}.json" if out_dir is not None else _rescue(h.report)
        if path is None:
            continue
        labels = [*tags, *(f"{k}={v}" for k, v in host_tags(h.host, result.run_tag).items())]
        command = import_command(path, db, labels)
        err = h.store_error
        h.store_error = type(err)(
            f"{err.message}; its results are kept in {path} (`{command}` adds them once the "
            "store is back)",
            hint=err.hint,
        )


def _tell_saved(result: Any, db: str | None, out: Any) -> None:
    """Where the hosts' reports went, and the report command that shows them as a fleet."""
    saved = [h for h in result.hosts if h.saved is not None]
    for h in result.store_errors:
        out.warn(f"{h.host.name}: the run was not saved: {h.store_error.message}")
    if not saved:
        return
    from llmbox.cli._bench_run import shown_db

    shown = shown_db(db)
    flag = f" --db {shlex.quote(shown)}" if shown else ""
    out.info(
        f"saved {len(saved)} host report(s) in {saved[0].saved.where}, tagged "
        f"fleet_run={result.run_tag} (llmbox history --tag fleet_run={result.run_tag}{flag})\n"
        f"report: llmbox report --tag fleet_run={result.run_tag}{flag} -o fleet.html"
    )


def _bench_signature() -> inspect.Signature:
    """`llmbox bench`'s parameters (declared once, in llmbox.cli.bench) and the fleet's own."""
    from typing import get_type_hints

    from llmbox.cli import bench as single

    hints = get_type_hints(single.bench, include_extras=True)
    own = inspect.signature(_fleet_options, eval_str=True).parameters.values()
    params = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(single.bench).parameters.values()
        if p.name not in _NOT_FOR_FLEETS
    ]
    return inspect.Signature([*params, *own])


def _fleet_options(
    inventory: InventoryOpt = None,
    select: SelectOpt = None,
    max_parallel: Annotated[
        int,
        typer.Option(
            min=0, help=f"Hosts benchmarked at once; 0: all (default {fd.BENCH_PARALLEL})."
        ),
    ] = fd.BENCH_PARALLEL,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write each host's report to DIR/HOST.json (llmbox.bench/1), rewritten after "
            "each case.",
            file_okay=False,
        ),
    ] = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None: ...


bench.__signature__ = _bench_signature()  # type: ignore[attr-defined]
bench.__annotations__ = {p.name: p.annotation for p in bench.__signature__.parameters.values()}  # type: ignore[attr-defined]
app.command("bench")(bench)
