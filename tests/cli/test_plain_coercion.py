"""llmbox converts plain option values itself instead of through Typer's pydantic adapters (the
start-up of `llmbox hw-estimate`): the result must be Typer's, and anything uncertain, with
every error message, must stay Typer's."""

from __future__ import annotations

import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.cli._app import _SKIP, _plain

runner = CliRunner()


class Colour(str, Enum):
    red = "red"
    blue = "blue"


def _typer(kind: Any, value: Any) -> Any:
    """What Typer's own adapter makes of ``value`` (or the error it raises)."""
    from typer._adapters import build_adapter
    from typer.models import OptionInfo

    try:
        return build_adapter(kind, OptionInfo()).validate_python(value)
    except Exception as err:  # any failure: the fast path must not accept it
        return err


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (int, "5"), (int, "+5"), (int, "-5"), (int, "007"), (int, 512), (int, "5.0"),
        (int, "1_000"), (int, " 5"), (int, "x"), (int, "5e2"), (int, ""),
        (float, "1.5"), (float, ".5"), (float, "5."), (float, "1e3"), (float, "+2.5E-2"),
        (float, "-0"), (float, "16"), (float, 16), (float, "nan"), (float, "inf"),
        (float, "1,5"), (float, " 1.5"), (float, ""),
        (str, "m4pro"), (str, ""), (str, "é ü"),
        (bool, True), (bool, False),
        (Colour, "red"), (Colour, Colour.blue), (Colour, "RED"), (Colour, "green"),
        (Path, "bench.json"), (Path, "/tmp"), (Path, "~/x"),
    ],
)  # fmt: skip
def test_plain_values_convert_as_typer_would(kind: Any, value: Any) -> None:
    from typer.models import OptionInfo

    ours = _plain(kind, OptionInfo(), value, None)
    theirs = _typer(kind, value)
    if ours is _SKIP:
        return  # Typer converts it (and words any error)
    assert not isinstance(theirs, Exception), f"accepted {value!r} that Typer rejects"
    assert ours == theirs
    assert type(ours) is type(theirs)


def test_bounds_and_parsers_are_left_to_typer() -> None:
    from typer.models import OptionInfo

    assert _plain(int, OptionInfo(min=1), "5", None) is _SKIP
    assert _plain(int, OptionInfo(parser=int), "5", None) is _SKIP


def test_bad_numbers_keep_typers_message() -> None:
    argv = ["hw-estimate", "-c", "m4pro", "-m", "llama3.1:8b", "--prompt-tokens", "abc"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert "Invalid value for '--prompt-tokens'" in result.output


def test_lists_enums_and_paths_arrive_typed(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    single = typer.Typer()

    @single.command()
    def cmd(
        tag: list[str] = typer.Option(None, "--tag"),  # noqa: B008
        colour: Colour = typer.Option(Colour.red, "--colour"),  # noqa: B008
        where: Path = typer.Option(None, "--where"),  # noqa: B008
        n: float = typer.Option(1, "--n"),
    ) -> None:
        seen.update(tag=tag, colour=colour, where=where, n=n)

    out = runner.invoke(single, ["--tag", "a", "--tag", "b", "--colour", "blue", "--where", "x"])
    assert out.exit_code == 0, out.output
    assert seen == {"tag": ["a", "b"], "colour": Colour.blue, "where": Path("x"), "n": 1.0}
    assert type(seen["n"]) is float


def test_hw_estimate_imports_no_pydantic() -> None:
    """Given options and a known catalog (the first run validates and caches it): no pydantic."""
    code = (
        "import sys; sys.argv = ['llmbox', 'hw-estimate', '--chip', 'm4pro', '--model',\n"
        "    'llama3.2:3b', '--memory', '24', '--target', 'decode_tps=5', '-f', 'json']\n"
        "from llmbox.cli import main\n"
        "try: main()\n"
        "except SystemExit: pass\n"
        "print('pydantic' in sys.modules, file=sys.stderr)"
    )
    targets = code.replace("'--model',\n    'llama3.2:3b', ", "")
    for argv in (targets, code.replace("'--target', 'decode_tps=5', ", "")):
        subprocess.run([sys.executable, "-c", argv], capture_output=True, check=True)
        out = subprocess.run(
            [sys.executable, "-c", argv], capture_output=True, text=True, check=True
        )
        assert out.stderr.strip().splitlines()[-1] == "False", out.stderr
