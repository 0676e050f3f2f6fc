"""cost with a usage typed in a hurry: an absurd amount is refused, not turned into a bill (was:
'--tokens-per-day 1e30' printed 'needs 2117682599113699092332544.0 h/day' and exit 0)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from llmbox.cli import app

runner = CliRunner()
BASE = ["cost", "--chip", "m4pro", "--model", "llama3.1:8b", "--api-price", "in=3,out=15"]


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        (["--tokens-per-day", "1e30"], "more than 1e+13 tokens a day (check the unit)"),
        (["--tokens-per-day", "in=1M,out=1e20"], "more than 1e+13 tokens a day"),
        (["--spend", "99999999999999/day"], "more than $1,000,000,000 a day (check the amount)"),
    ],
)
def test_absurd_usage_is_a_usage_error(usage: list[str], message: str) -> None:
    result = runner.invoke(app, [*BASE, *usage])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""


def test_a_large_but_real_usage_still_works() -> None:
    result = runner.invoke(app, [*BASE, "--tokens-per-day", "5e12", "--hardware-price", "0"])
    assert result.exit_code == 0, result.output
