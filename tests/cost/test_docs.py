"""docs/cost.md is executed: its commands run, and its worked field case is the model's."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.cost.model import Given, Inputs, Speed, compute
from llmbox.cost.prices import parse_price

DOC = (Path(__file__).parents[2] / "docs" / "cost.md").read_text(encoding="utf-8")
COMMANDS = [line[2:] for line in DOC.splitlines() if line.startswith("$ llmbox ")]


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_runs(command: str) -> None:
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert "local energy+hw" in result.stdout
    assert "Verdict:" in result.stdout


def test_field_case_arithmetic_in_the_doc() -> None:
    speed = Speed(input_tps=18 / 1.715, output_tps=8.77)
    res = compute(
        Inputs(
            speed=speed,
            watts=Given(20, "flag"),
            kwh_price=Given(0.19, "default"),
            hardware_price=Given(1199, "flag"),
            amortize_years=Given(3, "default"),
            hours_per_day=Given(8, "default"),
            api=parse_price("in=0,out=15"),
        )
    )
    assert round(res.joules_per_output_token, 2) == 2.28
    assert round(res.joules_per_input_token, 1) == 1.9
    assert round(res.energy_usd_per_mtok_output, 2) == 0.12
    assert res.usd_per_mtok_output is not None
    assert round(res.usd_per_mtok_output - res.energy_usd_per_mtok_output, 2) == 4.34
    assert res.breakeven_tokens_per_day == pytest.approx(73_500, rel=0.01)
    assert "$0.12" in DOC
    assert "73.5k" in DOC
    assert "2.28 J" in DOC
