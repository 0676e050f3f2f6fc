"""The Typer app: the root group, how each command is built, and where errors become exit codes.

Imported by ``llmbox.cli`` for everything except ``llmbox --version``.
"""

from __future__ import annotations

import os
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from llmbox import __version__
from llmbox.cli import COMMANDS
from llmbox.cli._common import QuietOpt
from llmbox.errors import ExitCode, LlmboxError

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SKIP = object()


def _plain(kind: Any, info: Any, value: Any, ctx: Any) -> Any:
    """``value`` converted to the plain type ``kind`` exactly as Typer's pydantic adapter would
    convert it, or ``_SKIP`` where that is not certain (Typer then converts it, errors included)."""
    if info.parser is not None:
        return _SKIP
    if isinstance(kind, type) and issubclass(kind, Enum):
        from typer._param_types import coerce_cli_choice

        try:
            return coerce_cli_choice(
                value, choices=list(kind), case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError:
            return _SKIP
    if kind is str:
        return value if isinstance(value, str) else _SKIP
    if kind in (int, float) and (info.min is not None or info.max is not None):
        return _SKIP
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(value) if isinstance(value, str) and _INT.fullmatch(value) else _SKIP
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return float(value) if isinstance(value, str) and _FLOAT.fullmatch(value) else _SKIP
    if kind is bool:
        return value if isinstance(value, bool) else _SKIP
    if kind is Path and isinstance(value, str) and value and "\0" not in value:
        if info.path_type is not None or info.allow_dash:
            return _SKIP
        from typer._param_types import coerce_cli_path

        checked = coerce_cli_path(value, info, path_type=None)  # exists/readable/... as Typer
        return Path(checked) if isinstance(checked, str) else _SKIP
    return _SKIP


def _plain_values_skip_typer_coercion() -> None:
    """Typer (≥ 0.2x) converts every option through a pydantic TypeAdapter it builds on first
    use, which costs pydantic's whole import (2x a bare Typer app's start-up) even for ``None``
    or ``--chip m4pro``. Absent values and plain ones (str, int, float, bool, Enum, Path, and
    lists of them, without a parser or bounds) are converted here to exactly what Typer would
    give; anything else — and any value this does not convert with certainty, so every error
    message stays Typer's — goes through Typer as before. Tests compare both paths and guard
    the start-up."""
    param_class = getattr(typer.core, "_TyperParameter", None)
    convert = getattr(param_class, "process_value", None)
    if param_class is None or convert is None or not hasattr(param_class, "get_runtime_param"):
        return  # a Typer without adapters: nothing to skip

    def fast(self: Any, ctx: Any, value: Any) -> Any:
        desc = getattr(self, "type_descriptor", None)
        if desc is None or desc.file_annotation is not None:
            return _SKIP
        multi = self.multiple or self.nargs == -1
        if value is None:
            return () if multi else None
        kind = desc.annotation
        if get_origin(kind) is list and multi and isinstance(value, (list, tuple)):
            (item,) = get_args(kind) or (None,)
            out = [_plain(item, desc.parameter_info, v, ctx) for v in value]
            return _SKIP if any(v is _SKIP for v in out) else out
        if multi or self.nargs != 1:
            return _SKIP
        return _plain(kind, desc.parameter_info, value, ctx)

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        converted = fast(self, ctx, value)
        if converted is _SKIP or (self.required and self.value_is_missing(converted)):
            return convert(self, ctx, value)
        return self.callback(ctx, self, converted) if self.callback is not None else converted

    param_class.process_value = process_value


_plain_values_skip_typer_coercion()


def load_command(name: str) -> Any:
    """The full Click command for ``name`` (imports its module, converts its options)."""
    import importlib

    module, attr, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):  # a command with subcommands (bench, bench compare)
        for info in target.registered_commands:
            info.cls = info.cls or _Command
        command: Any = typer.main.get_command(target)
    else:
        single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        single.command(name, cls=_Command)(target)
        command = typer.main.get_command(single)
    _polish(command)
    return command


# -- what every command gets, whoever wrote it ------------------------------------------------


def _set_debug(value: bool) -> None:
    if value:
        os.environ["LLMBOX_DEBUG"] = "1"  # one switch, read by the error handler and the engine


DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Show tracebacks (also LLMBOX_DEBUG=1).",
        callback=_set_debug,
        expose_value=False,
    ),
]


def _global_options() -> list[Any]:
    """Options every command accepts after its name too (``llmbox list --debug``)."""

    def options(debug: DebugOpt = False) -> None: ...

    single = typer.Typer(add_completion=False)
    single.command()(options)
    return [p for p in typer.main.get_command(single).params if p.name == "debug"]


#: Usage errors (exit 2) apply to every command; a command help that lists exit codes lists it.
_EXIT_2 = "2 usage error"
_METAVARS: dict[Any, str] = {int: "INTEGER", float: "NUMBER", str: "TEXT"}


class _Polished:
    """Mixed into the root group and every command.

    Help is plain text (``rich_markup_mode=None``): brackets in help are text, not markup, so
    ``[default: 512]`` shows; paragraphs wrap to the terminal; no colour to turn off; and it
    costs no rich import, so ``llmbox CMD --help`` starts faster than a bare Typer app's rich
    help. Options keep their groups (``rich_help_panel``) as plain sections. Metavars name what
    to type (``TEXT``, ``INTEGER``, ``PATH``; nothing for flags) instead of Python types
    (``<list[str]>``, ``<bool>``), on every parameter including the help option Click adds late.
    """

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            default = "Arguments" if param.param_type_name == "argument" else "Options"
            sections.setdefault(getattr(param, "rich_help_panel", None) or default, []).append(
                record
            )
        for name in sorted(sections, key=lambda n: (n != "Arguments", n != "Options")):
            with formatter.section(name):
                formatter.write_dl(sections[name])
        if isinstance(self, TyperGroup):
            self.format_commands(ctx, formatter)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _polish_param(param)
        return params


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the metavar (MODELS) says it; Typer would add ``<list[str]>``


class _Command(_Polished, TyperCommand):
    pass


def _polish(command: Any) -> None:
    """What every command gets, whoever wrote it and however it was built: plain help, the
    global options on each command that runs, help text normalised, metavars that name what to
    type; the same for each subcommand."""
    command.rich_markup_mode = None
    command.help = _help_text(command.help or "")
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        names = {p.name for p in command.params}
        command.params.extend(p for p in _global_options() if p.name not in names)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = _help_text(param.help)
        _polish_param(param)
    for sub in (subcommands or {}).values():
        _polish(sub)


def _polish_param(param: Any) -> None:
    if param.metavar is None:
        param.metavar = _metavar(param)
    if isinstance(param, TyperArgument) and not isinstance(param, _Argument):
        param.__class__ = _Argument


def _quiet_by_default(command: Any) -> None:
    """``llmbox -q CMD …``: each ``--quiet`` of CMD (and its subcommands) defaults to on."""
    for param in command.params:
        if param.name == "quiet":
            param.default = True
    for sub in (getattr(command, "commands", None) or {}).values():
        _quiet_by_default(sub)


def _help_text(text: str) -> str:
    r"""Paragraphs of one line each (the formatter wraps them to the terminal), exit code 2 in an
    exit-code list.

    >>> print(_help_text("Exit codes: 0 ok,\n  1 failed, 3 unreachable [default: x]."))
    Exit codes: 0 ok, 1 failed, 2 usage error, 3 unreachable [default: x].
    """
    import inspect
    import re

    paragraphs = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines = para.splitlines()
        if any(line.lstrip().startswith(("-", "*", "\b")) for line in lines):
            paragraphs.append(para)  # a list or preformatted block: keep its lines
            continue
        para = " ".join(para.split())
        if para.startswith("Exit codes:") and not re.search(r"\b2 ", para):
            para = re.sub(r"(\b[01] [^,]*,)(?![^,]*\b1 )", rf"\1 {_EXIT_2},", para, count=1)
        paragraphs.append(para)
    return "\n\n".join(paragraphs)


def _metavar(param: Any) -> str | None:
    """``TEXT``, ``INTEGER``, ``NUMBER``, ``PATH``; nothing for flags; the name (``MODELS``) for an
    argument; None (Typer's own choice list) for enums."""
    from enum import Enum
    from pathlib import PurePath
    from typing import get_args, get_origin

    if getattr(param, "is_flag", False):
        return ""
    if getattr(param, "param_type_name", "") == "argument":
        return (param.name or "").upper()
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return None
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "PATH"
    return _METAVARS.get(annotation)


class _App(_Polished, TyperGroup):
    """Lists commands from ``COMMANDS`` and builds one only when it runs; and the one place where
    errors become messages and exit codes."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Each command's whole line, wrapped (Click would cut it at the terminal's width)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, _, line) in COMMANDS.items()])

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        # A stand-in that carries only the help line, for listings such as `llmbox --help`.
        return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][2], callback=None)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and name in COMMANDS:
            cmd = load_command(name)
            if ctx.params.get("quiet"):
                _quiet_by_default(cmd)
        return name, cmd, rest

    def invoke(self, ctx: Any) -> Any:
        from llmbox.cli._common import debug_enabled
        from llmbox.report.output import print_error

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except LlmboxError as err:
            _traceback_if_debugging(debug_enabled())
            print_error(err.message, err.hint)
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            _traceback_if_debugging(debug_enabled())
            print_error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as err:
            _traceback_if_debugging(debug_enabled())
            print_error(
                f"unexpected {type(err).__name__}: {err}",
                "rerun with --debug for the traceback, and please report it",
            )
            raise typer.Exit(int(ExitCode.FAILURE)) from None


def _traceback_if_debugging(debugging: bool) -> None:
    """--debug prints the traceback too; the exit code stays the error's own (CI scripts that
    turn on --debug to see more must not see every failure become exit 1)."""
    if debugging:
        import traceback

        traceback.print_exc()


app = typer.Typer(
    cls=_App,
    name="llmbox",
    help="Local LLM DevOps: provision models, benchmark them honestly, predict their speed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Local LLM DevOps: provision models, benchmark them honestly, predict their speed."""
    # --debug acts in its callback; --quiet in _App.resolve_command (`llmbox -q list` = `list -q`)
