"""Generate docs/cli.md from the Typer app, so the reference cannot drift from the code.

``python -m llmbox.cli._docgen docs/cli.md`` rewrites it; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HEADER = """# CLI reference

Generated from the code by `make docs` (`python -m llmbox.cli._docgen docs/cli.md`); a test fails
when this file is stale. Exit codes: [exit-codes.md](exit-codes.md).
"""


def _param_row(param: Any) -> str | None:
    if getattr(param, "hidden", False):
        return None
    names = " / ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if param.param_type_name == "argument":
        names = f"`{param.name.upper()}`" + ("…" if param.nargs == -1 else "")
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = param.default
    show = (
        param.param_type_name == "option"
        and default not in (None, False, (), [])
        and not callable(default)
        and getattr(param, "show_default", True) is not False
    )
    if show:
        value = default.value if hasattr(default, "value") else default
        help_text += f" [default: {value}]"
    escaped = help_text.replace("|", "\\|")
    return f"| {names} | {escaped} |"


def render() -> str:
    import typer

    from llmbox.cli import COMMANDS, app, load_command

    lines = [HEADER]
    root = typer.main.get_command(app)
    lines.append("## `llmbox`\n")
    lines.append((root.help or "").strip() + "\n")
    lines.append("Options before the command's name (`--debug` and `--quiet` work after it too).\n")
    lines.append("| option | meaning |\n|---|---|")
    lines.extend(r for p in root.params if (r := _param_row(p)) is not None)
    lines.append("")
    for name in sorted(COMMANDS):
        cmd = load_command(name)
        if cmd.hidden:
            continue
        # A command with subcommands (bench: run, compare): its default one ("run") is documented
        # under the command's own name.
        subs = getattr(cmd, "commands", None) or {"": cmd}
        for sub_name, sub in subs.items():
            title = name if sub_name in ("", "run") else f"{name} {sub_name}"
            lines += _section(title, sub)
    return "\n".join(lines).rstrip() + "\n"


def _section(title: str, cmd: Any) -> list[str]:
    lines = [f"## `llmbox {title}`\n", (cmd.help or "").strip() + "\n"]
    rows = [r for p in cmd.params if (r := _param_row(p)) is not None]
    if rows:
        lines.append("| argument / option | meaning |\n|---|---|")
        lines.extend(rows)
        lines.append("")
    return lines


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path("docs/cli.md")
    target.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
