"""`llmbox cost` as a user meets it: the field case, JSON, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app

runner = CliRunner()
REPORT = str(Path(__file__).parents[1] / "data" / "bench_v1_first_wave.json")
FIELD = ["cost", "--chip", "m4pro", "--model", "qwen3:30b-a3b", "--api", "claude-sonnet-4-6"]


def test_issue_command_answers_with_assumptions_and_names_the_missing_figure() -> None:
    # The issue's example, as typed: power from the catalog (Mac mini M4 Pro's published maximum,
    # an upper bound), no launch price for the 20-core bin in the catalog -> says which flag.
    result = runner.invoke(app, [*FIELD, "--spend", "20/day"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for word in ("USD per M output tokens", "Break-even:", "Assumptions:", "Verdict:"):
        assert word in out
    assert "estimated: hw-estimate" in out
    assert "140 W — estimated: catalog board power" in out
    assert "$0.19/kWh — default" in out
    assert "hardware     missing" in out
    assert "--hardware-price" in out


def test_field_case_with_measured_numbers_pays_back() -> None:
    result = runner.invoke(
        app, [*FIELD, "--spend", "20/day", "--watts", "60", "--hardware-price", "1599"]
    )
    assert result.exit_code == 0, result.output
    assert "60 W — flag" in result.stdout
    assert "Payback:" in result.stdout
    assert "Local pays off" in result.stdout


def test_json_output_carries_figures_and_origins() -> None:
    result = runner.invoke(
        app,
        [
            *FIELD,
            "--tokens-per-day",
            "2M",
            "--watts",
            "50",
            "--kwh-price",
            "0.3",
            "--hardware-price",
            "1999",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "llmbox.cost/1"
    local = data["local"]
    assert local["joules_per_token"] == pytest.approx(50 / local["output_tps"], rel=1e-3)
    assert local["energy_usd_per_mtok_output"] == pytest.approx(
        local["joules_per_token"] / 3.6 * 0.3, rel=1e-3
    )
    assert data["api"]["usd_per_mtok_output"] == 15.0
    assert data["inputs"]["watts"]["source"] == "flag"
    assert data["inputs"]["output_tps"]["source"] == "estimated"
    assert data["inputs"]["hardware_price"]["value"] == 1999.0
    assert data["inputs"]["hardware_price"]["source"] == "flag"
    assert data["breakeven_tokens_per_day"] > 0
    assert data["payback_months"] > 0


def test_from_bench_uses_best_concurrency_and_says_so() -> None:
    result = runner.invoke(
        app,
        [
            "cost",
            "--from-bench",
            REPORT,
            "--model",
            "qwen3:4b",
            "--watts",
            "200",
            "--api-price",
            "in=0.05,out=0.3",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["local"]["concurrency"] == 4
    assert "using the fastest, 'pp512 tg128 c4'" in result.stderr
    assert data["per_answer"]["thinking_tokens"] > 0
    assert data["local"]["chip"] == "rtx4070"


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--spend", "lots"], "--spend 'lots'", "20/day"),
        (["--tokens-per-day", "-5"], "--tokens-per-day", "2M"),
        (["--spend", "20/day", "--tokens-per-day", "1M"], "not both", "--spend"),
        (["--kwh-price", "-1"], "--kwh-price -1", "USD per kWh"),
        (["--hours-per-day", "25"], "--hours-per-day 25", "busy hours"),
        (["--amortize-years", "0"], "--amortize-years", "e.g."),
        (["--watts", "0"], "--watts 0", "--watts"),
        (["--api-price", "in=3"], "not both", "--api-price"),
    ],
)
def test_bad_input_is_one_line_hint_exit_2(args: list[str], message: str, hint: str) -> None:
    result = runner.invoke(app, [*FIELD, "--watts", "60", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Hint:" in result.stderr
    assert hint in result.stderr
    assert "Traceback" not in result.output


def test_missing_power_names_the_flag() -> None:
    result = runner.invoke(
        app, ["cost", "--chip", "gtx1660ti-laptop", "--model", "qwen3:4b", "--api", "gpt-5"]
    )
    assert result.exit_code == 2
    assert "no board power in the catalog" in result.stderr
    assert "--watts" in result.stderr


def test_unknown_api_suggests() -> None:
    result = runner.invoke(app, [*FIELD[:-1], "claude-sonet-4-6", "--watts", "60"])
    assert result.exit_code == 2
    assert "unknown API 'claude-sonet-4-6'" in result.stderr
    assert "claude-sonnet-4-6" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cost", "--api", "gpt-5", "--watts", "9"], "where does the local speed come from"),
        (["cost", "--from-bench", "/nope.json", "--api", "gpt-5"], "cannot read /nope.json"),
        (["cost", "--chip", "m4pro", "--model", "qwen3:30b-a3b", "--watts", "9"], "which API"),
        (["cost", "--chip", "m9", "--model", "qwen3:4b", "--api", "gpt-5"], "unknown chip"),
    ],
)
def test_wrong_sources(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_list_apis_marks_the_users_entries() -> None:
    from llmbox.cost.prices import user_prices_path

    path = user_prices_path()
    path.parent.mkdir(parents=True)
    path.write_text("schema: llmbox.api_prices/1\nprices:\n  - {name: mine, input: 1, output: 2}\n")
    result = runner.invoke(app, ["cost", "--list-apis"])
    assert result.exit_code == 0, result.output
    assert "claude-sonnet-4-6" in result.stdout
    assert "(yours)" in result.stdout
    bad = runner.invoke(app, [*FIELD, "--watts", "60"])
    assert bad.exit_code == 0
    path.write_text("schema: llmbox.api_prices/1\nprices:\n  - {name: mine, input: 1}\n")
    broken = runner.invoke(app, ["cost", "--list-apis"])
    assert broken.exit_code == 2
    assert f"{path}:3:" in broken.stderr
