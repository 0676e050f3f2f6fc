"""The ``llmbox`` command line: assembles the command modules and maps errors to exit codes.

Each command module imports only typer and its option declarations at import time; the core it
calls is imported inside the command, so ``llmbox --help`` costs about what a bare Typer app costs.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from llmbox import __version__
from llmbox.errors import ExitCode, LlmboxError

#: Every command: name -> (module, function, the one-line help ``llmbox --help`` lists).
#: Commands are built from their functions only when run, so ``llmbox --help`` pays for none of
#: them (Typer's conversion of all options costs more than the rest of start-up). A test checks
#: each line against the first line of the function's docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bench": (
        "llmbox.cli.bench",
        "app",
        "Benchmark models: prefill/decode tokens/s, TTFT, end-to-end and load time, as mean ± sd.",
    ),
    "hw-estimate": (
        "llmbox.cli.hw",
        "hw_estimate",
        "Predict prefill/decode speed, TTFT and memory fit of a model on a chip; no server needed.",
    ),
    "chips": (
        "llmbox.cli.hw",
        "chips",
        "List the chip catalog: bandwidth, FP16 TFLOPS, memory sizes, efficiency family, sources.",
    ),
    "pull": (
        "llmbox.cli.models",
        "pull",
        "Download models, one after another, with progress on stderr.",
    ),
    "list": (
        "llmbox.cli.models",
        "list_models",
        "List installed models: name, ID, size, parameters, quantization, modified.",
    ),
    "ps": (
        "llmbox.cli.models",
        "ps",
        "List loaded models: size in memory, CPU/GPU split, context length, until when.",
    ),
    "show": (
        "llmbox.cli.models",
        "show",
        "Show a model's architecture: parameters, context, layers, KV heads, quantization, tools.",
    ),
    "rm": (
        "llmbox.cli.models",
        "rm",
        "Delete models from disk, unloading each first if it is loaded.",
    ),
    "load": (
        "llmbox.cli.models",
        "load",
        "Load a model into memory now, and show where it landed (CPU/GPU).",
    ),
    "unload": (
        "llmbox.cli.models",
        "unload",
        "Unload a model from memory now (keep_alive 0) and wait until the server lets it go.",
    ),
    "sync": (
        "llmbox.cli.models",
        "sync",
        "Make the server hold the models FILE lists: pull the missing, preload, optionally prune.",
    ),
    "doctor": (
        "llmbox.cli.doctor",
        "doctor",
        "Check the server: reachable, version, models installed and loaded (CPU/GPU), OLLAMA_*.",
    ),
    "report": (
        "llmbox.cli.report",
        "report",
        "Charts of benchmark results: one offline HTML page, PNG/SVG images, or Markdown.",
    ),
}


def load_command(name: str) -> Any:
    """The full Click command for ``name`` (imports its module, converts its options)."""
    import importlib

    module, attr, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):  # a command with subcommands (bench, bench compare)
        return typer.main.get_command(target)
    single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


class _App(TyperGroup):
    """Lists commands from ``COMMANDS`` and builds one only when it runs; and the one place where
    errors become messages and exit codes."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        # A stand-in that carries only the help line, for listings such as `llmbox --help`.
        return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][2], callback=None)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and name in COMMANDS:
            cmd = load_command(name)
        return name, cmd, rest

    def invoke(self, ctx: Any) -> Any:
        from llmbox.cli._common import debug_enabled
        from llmbox.cli._output import print_error

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except LlmboxError as err:
            if debug_enabled():
                raise
            print_error(err.message, err.hint)
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            print_error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as err:
            if debug_enabled():
                raise
            print_error(
                f"unexpected {type(err).__name__}: {err}",
                "rerun with --debug for the traceback, and please report it",
            )
            raise typer.Exit(int(ExitCode.FAILURE)) from None


app = typer.Typer(
    cls=_App,
    name="llmbox",
    help="Local LLM DevOps: provision models, benchmark them honestly, predict their speed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"llmbox {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (also LLMBOX_DEBUG=1).")
    ] = False,
) -> None:
    if debug:
        os.environ["LLMBOX_DEBUG"] = "1"  # one switch, read by the error handler and the engine


def main() -> None:
    """Console-script entry point."""
    app(prog_name="llmbox")
