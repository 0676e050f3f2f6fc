"""The ``llmbox`` command line: assembles the command modules and maps errors to exit codes.

Each command module imports only typer and its option declarations at import time; the core it
calls is imported inside the command, so ``llmbox --help`` costs about what a bare Typer app costs.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from llmbox import __version__
from llmbox.cli import bench, doctor, hw, models
from llmbox.errors import ExitCode, LlmboxError


def _debug_enabled(ctx: typer.Context | None) -> bool:
    from llmbox.cli._common import debug_enabled

    return debug_enabled()


class _App(TyperGroup):
    """The one place where errors become messages and exit codes."""

    def invoke(self, ctx: Any) -> Any:
        from llmbox.cli._output import print_error

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except LlmboxError as err:
            if _debug_enabled(ctx):
                raise
            print_error(err.message, err.hint)
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            if _debug_enabled(ctx):
                raise
            print_error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as err:
            if _debug_enabled(ctx):
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


app.command("doctor")(doctor.doctor)
app.command("hw-estimate")(hw.hw_estimate)
app.command("chips")(hw.chips)
app.command("pull")(models.pull)
app.command("list")(models.list_models)
app.command("ps")(models.ps)
app.command("show")(models.show)
app.command("rm")(models.rm)
app.command("load")(models.load)
app.command("unload")(models.unload)
app.command("sync")(models.sync)
app.command("bench")(bench.bench)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="llmbox")
