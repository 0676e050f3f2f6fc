"""Model provisioning commands: pull, list, ps, show, rm, load, unload, sync.

Each command parses its options, calls one core function from ``llmbox.provision`` and hands the
result to a renderer. Only typer and the shared options are imported up front.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from llmbox.cli._common import DataFormat, FormatOpt, HostOpt, QuietOpt, TimeoutOpt, run

if TYPE_CHECKING:
    from llmbox.client import OllamaClient
    from llmbox.provision import MachineSpec, ModelChange, PullResult, SyncReport
    from llmbox.report.output import Output
    from llmbox.report.progress import PullView

T = TypeVar("T")

ModelsArg = Annotated[list[str], typer.Argument(help="Model names, e.g. llama3.2 qwen2.5:0.5b.")]
ModelArg = Annotated[str, typer.Argument(help="Model name, e.g. llama3.2.")]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        min=0,
        help="Retries after a dropped connection, with exponential backoff (1 s, 2 s, 4 s…); "
        "Ollama resumes the partial download.",
    ),
]
#: ``llmbox.provision.DEFAULT_RETRIES`` (kept literal so ``--help`` imports nothing; a test checks).
_RETRIES = 3


def _with_client(
    host: str | None, timeout: float | None, call: Callable[[OllamaClient], Coroutine[Any, Any, T]]
) -> T:
    """Resolve the settings, open a client, run ``call(client)`` to completion."""
    from llmbox.client import OllamaClient
    from llmbox.config import resolve_settings

    settings = resolve_settings(host=host, timeout=timeout)

    async def _go() -> T:
        async with OllamaClient(host=settings.host, timeout=settings.timeout) as client:
            return await call(client)

    return run(_go())


def _pull_view(out: Output) -> PullView:
    """Bars on a terminal, a few plain lines per layer otherwise, nothing with ``--quiet``."""
    import sys

    from llmbox.report.progress import PlainPullView, PullView, RichPullView

    if out.quiet:
        return PullView()
    if out.progress_enabled:
        return RichPullView(out.progress_console())
    return PlainPullView(sys.stderr)


def _pulling(view: PullView, go: Callable[[], T]) -> T:
    """Run ``go`` with the view open; Ctrl-C or SIGTERM says which partial download is kept."""
    from llmbox.errors import Interrupted, Terminated

    try:
        return go()
    except (KeyboardInterrupt, Terminated) as stop:
        kind = Terminated if isinstance(stop, Terminated) else Interrupted
        word = "terminated by SIGTERM" if kind is Terminated else "interrupted"
        model = view.current
        if model is None:
            raise kind(word) from None
        raise kind(
            f"{word} while pulling {model}; the partial download is kept",
            hint=f"llmbox pull {model} resumes it",
        ) from None
    finally:
        view.close()


def _emit(
    out: Output, format: DataFormat, data: Callable[[], Any], text: Callable[[], str]
) -> None:
    if format is DataFormat.json:
        out.json(data())
    else:
        out.data(text())


def _finish(results: Sequence[Any], what: str) -> None:
    """Exit non-zero when any failed: one model re-raises its error, several get a summary."""
    from llmbox.provision import combined_exit_code
    from llmbox.report.output import print_error

    failed = [r for r in results if r.error is not None]
    if not failed:
        return
    if len(results) == 1:
        raise failed[0].error
    for r in failed:
        print_error(f"{r.model}: {r.error.message}", r.error.hint)
    print_error(f"{len(failed)} of {len(results)} models failed to {what}")
    raise typer.Exit(combined_exit_code(results))


def pull(
    models: ModelsArg,
    retries: RetriesOpt = _RETRIES,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Download models, one after another, with progress on stderr.

    A dropped connection is retried with backoff; Ollama resumes the download. With several
    models a failure does not stop the others. `--format json` prints an array, one object per
    model, even for one.

    Exit codes: 0 all pulled, 1 a pull failed, 3 server unreachable, 4 model not in the registry,
    130 interrupted (the partial download is kept). Several failures with different codes: 1.
    """
    from llmbox.provision import pull_models
    from llmbox.report.output import Output
    from llmbox.report.provision import render_pull_results

    out = Output(quiet=quiet)
    view = _pull_view(out)
    results = _pulling(
        view,
        lambda: _with_client(
            host, timeout, lambda c: pull_models(c, models, retries=retries, on_event=view)
        ),
    )
    _emit(out, format, lambda: [r.to_dict() for r in results], lambda: render_pull_results(results))
    _finish(results, "pull")


def _print_models(
    out: Output, models: Any, format: DataFormat, render: Any, empty_hint: str
) -> None:
    """A model listing: JSON objects, or a table (and a hint on stderr when it is empty)."""
    if format is DataFormat.json:
        out.json([m.to_dict() for m in models])
        return
    out.data(render(models))
    if not models:
        out.info(empty_hint)


def list_models(
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """List installed models: name, ID, size, parameters, quantization, modified.

    Exit codes: 0 ok, 3 server unreachable.
    """
    from llmbox.provision import list_models as core_list
    from llmbox.report.output import Output
    from llmbox.report.provision import render_models

    models = _with_client(host, timeout, core_list)
    _print_models(
        Output(quiet=quiet),
        models,
        format,
        render_models,
        "No models installed. Try: llmbox pull MODEL",
    )


def ps(
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """List loaded models: size in memory, CPU/GPU split, context length, until when.

    Exit codes: 0 ok, 3 server unreachable.
    """
    from llmbox.provision import running_models
    from llmbox.report.output import Output
    from llmbox.report.provision import render_running

    models = _with_client(host, timeout, running_models)
    _print_models(
        Output(quiet=quiet),
        models,
        format,
        render_running,
        "No models loaded. Try: llmbox load MODEL",
    )


def show(
    model: ModelArg,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Show a model's architecture: parameters, context, layers, KV heads, quantization, tools.

    Exit codes: 0 ok, 3 server unreachable, 4 model not installed.
    """
    from llmbox.provision import show_model
    from llmbox.report.output import Output
    from llmbox.report.provision import render_facts

    facts = _with_client(host, timeout, lambda c: show_model(c, model))
    _emit(Output(quiet=quiet), format, facts.to_dict, lambda: render_facts(facts))


def rm(
    models: ModelsArg,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Delete models from disk, unloading each first if it is loaded.

    Exit codes: 0 all deleted, 1 a delete failed, 3 server unreachable, 4 model not installed.
    """
    from llmbox.provision import remove_models
    from llmbox.report.output import Output
    from llmbox.report.provision import render_changes

    changes = _with_client(host, timeout, lambda c: remove_models(c, models))
    out = Output(quiet=quiet)
    _emit(out, format, lambda: [c.to_dict() for c in changes], lambda: render_changes(changes))
    _finish(changes, "delete")


def load(
    model: ModelArg,
    keep_alive: Annotated[
        str | None,
        typer.Option(
            "--keep-alive",
            help="How long it stays loaded: seconds (-1 = until the server stops) or a "
            "duration such as 10m, 1h. Default: the server's (5m, or OLLAMA_KEEP_ALIVE).",
            show_default=False,
        ),
    ] = None,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Load a model into memory now, and show where it landed (CPU/GPU).

    Exit codes: 0 loaded, 1 the server could not load it, 2 bad --keep-alive, 3 server
    unreachable, 4 model not installed.
    """
    from llmbox.errors import UsageError
    from llmbox.provision import load_model, parse_keep_alive
    from llmbox.report.output import Output
    from llmbox.report.provision import render_changes

    try:
        alive = parse_keep_alive(keep_alive) if keep_alive is not None else None
    except ValueError as err:
        raise UsageError(str(err), hint="e.g. --keep-alive 30m") from None
    change = _with_client(host, timeout, lambda c: load_model(c, model, keep_alive=alive))
    _emit(Output(quiet=quiet), format, change.to_dict, lambda: render_changes([change]))


def unload(
    model: ModelArg,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Unload a model from memory now (keep_alive 0) and wait until the server lets it go.

    Exit codes: 0 ok, 3 server unreachable, 4 model not installed.
    """
    from llmbox.provision import unload_model
    from llmbox.report.output import Output
    from llmbox.report.provision import render_changes

    change = _with_client(host, timeout, lambda c: unload_model(c, model))
    _emit(Output(quiet=quiet), format, change.to_dict, lambda: render_changes([change]))


def sync(
    file: Annotated[
        Path,
        typer.Argument(
            help="YAML file listing the models this machine must have ('-': standard input).",
            dir_okay=False,
        ),
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Also remove installed models the file does not list.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before pruning.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    retries: RetriesOpt = _RETRIES,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Make the server hold the models FILE lists: pull the missing, preload, optionally prune.

    The file is validated before anything changes; `--dry-run` prints the plan. With `--prune`,
    nothing is removed unless every listed model is present after the pulls. See
    docs/provisioning.md for the file format.

    Exit codes: 0 the machine matches the file, 1 a step failed, a listed model is missing or
    pruning was declined, 2 malformed file, 3 server unreachable, 4 a listed model is not in the
    registry, 130 interrupted (partial downloads are kept).
    """
    from llmbox.provision import apply_sync, plan_sync
    from llmbox.report.output import Output
    from llmbox.report.provision import render_plan, render_sync

    spec = _read_spec(file)
    label = "<stdin>" if str(file) == "-" else str(file)
    out = Output(quiet=quiet)
    plan = _with_client(host, timeout, lambda c: plan_sync(c, spec, prune=prune, file=label))
    rule = (
        f"Nothing is removed unless all {len(plan.listed)} listed model(s) are present after "
        "the pulls."
    )
    if dry_run:
        _emit(out, format, lambda: {**plan.to_dict(), "dry_run": True}, lambda: render_plan(plan))
        if plan.to_remove and plan.to_pull:
            out.info(rule)
        return
    if plan.to_remove and not yes:
        _confirm_prune(out, plan.to_remove, label, rule if plan.to_pull else "")
    view = _pull_view(out)
    report = _pulling(
        view,
        lambda: _with_client(
            host, timeout, lambda c: apply_sync(c, plan, retries=retries, on_event=view)
        ),
    )
    _emit(out, format, report.to_dict, lambda: render_sync(report))
    if report.in_sync:
        out.info(f"In sync: {len(spec.models)} model(s) from {label}.")
        return
    _sync_failed(report, label)


def _read_spec(file: Path) -> MachineSpec:
    """The sync file, or standard input for ``-`` (then pruning needs ``--yes``: no terminal)."""
    import sys

    from llmbox.provision import load_spec
    from llmbox.yamlio import decode_text

    if str(file) != "-":
        return load_spec(file)
    return load_spec(Path("<stdin>"), text=decode_text(sys.stdin.buffer.read(), "<stdin>"))


def _confirm_prune(out: Output, names: list[str], file: str, rule: str) -> None:
    """Ask before removing ``names``; no answer (EOF, no terminal) or "no" changes nothing."""
    question = f"Remove {len(names)} model(s) not in {file}: {', '.join(names)}?"
    try:
        agreed = typer.confirm(f"{question} {rule}".strip(), err=True)
    except typer.Abort:  # stdin closed: no answer is a no
        out.info("")
        agreed = False
    if not agreed:
        from llmbox.errors import LlmboxError

        raise LlmboxError("nothing changed: pruning was not confirmed", hint="add --yes to prune")


def _sync_failed(report: SyncReport, file: str) -> None:
    """Say what went wrong, step by step, and whether the prune was held back; exit non-zero."""
    from llmbox.report.output import print_error

    steps: list[PullResult | ModelChange] = [*report.pulled, *report.removed, *report.loaded]
    for step in steps:
        if step.error is not None:
            print_error(f"{step.model}: {step.error.message}", step.error.hint)
    if report.missing:
        message = f"{len(report.missing)} listed model(s) missing: {', '.join(report.missing)}"
        if report.kept:
            message += f"; nothing removed, kept {', '.join(report.kept)}"
        print_error(message, f"check the names in {file}, then run the sync again")
    raise typer.Exit(report.exit_code)
