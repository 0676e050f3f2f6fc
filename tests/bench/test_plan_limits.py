"""Absurd and non-finite option values of `llmbox bench`: a usage error before any request."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.bench.grid import LIMITS, MAX_CASE_REQUESTS, load_suite
from llmbox.bench.plan import BenchOptions, build_plan
from llmbox.cli import app
from llmbox.errors import ConfigError, UsageError

runner = CliRunner()
UNREACHABLE = "http://127.0.0.1:9"  # a plan error must come before any connection


@pytest.mark.parametrize(
    "argv",
    [
        ["--runs", "100000000"],
        ["--warmup", "100000000"],
        ["--requests", "100000000", "--rate", "1"],
        ["--requests", "100000000"],
        ["--concurrency", "1,2,100000000"],
        ["--max-concurrency", "100000000", "--rate", "1"],
        ["--max-concurrency", "100000", "--sweep"],
        ["--turns", "100000"],
        ["--num-ctx", "99999999999999999999999"],
        ["--max-tokens", "100000000"],
        ["--max-tokens", "50~1000000000"],
        ["--prompt-tokens", "1:100000000"],
        ["--cooldown", "1e9", "--order", "interleave"],
        ["--duration", "1e7", "--rate", "0.001"],
        ["--threads", "1000000", "--backend", "embedded"],
        ["--parallel", "100000000"],
        ["--ctx-size", "1000000000"],
    ],
)
def test_absurd_counts_name_the_limit_and_why(argv: list[str]) -> None:
    option = argv[0]
    result = runner.invoke(app, ["bench", "m:1b", "--host", UNREACHABLE, "--no-save", *argv])
    assert result.exit_code == 2, result.output
    error, hint = result.stderr.splitlines()
    limit = LIMITS[option].most
    assert error.startswith(f"Error: {option} ")
    assert error.endswith(f" is more than {int(limit):,}{LIMITS[option].unit}, the limit")
    assert hint == f"Hint: {LIMITS[option].why}; e.g. {option} {LIMITS[option].example}"


@pytest.mark.parametrize("option", ["--runs", "--warmup", "--turns", "--requests", "--threads"])
def test_the_limit_itself_is_accepted(option: str) -> None:
    value = int(LIMITS[option].most)
    extra = {"--requests": {"rate": "1"}, "--turns": {"runs": 1}}.get(option, {})
    field = option.removeprefix("--")
    build_plan(BenchOptions(models=["m:1b"], **{field: value}, **extra))


def test_a_case_may_send_at_most_so_many_requests() -> None:
    build_plan(
        BenchOptions(models=["m:1b"], runs=10_000, concurrency=str(MAX_CASE_REQUESTS // 10_000))
    )
    with pytest.raises(UsageError) as err:
        build_plan(BenchOptions(models=["m:1b"], runs=10_000, concurrency="1,64"))
    assert str(err.value) == (
        "pp512 tg128 c64: 10,000 runs × 64 in flight is 640,000 requests, more than 100,000 "
        "per case, the limit"
    )
    assert err.value.hint == "with --concurrency C each run sends C requests; e.g. --runs 10"


def test_a_suite_is_held_to_the_same_limits(tmp_path: Path) -> None:
    suite = tmp_path / "big.yaml"
    suite.write_text("name: big\nruns: 100000000\ncases:\n  - max_tokens: 8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="runs"):
        load_suite(str(suite))
    suite.write_text("name: big\ncases:\n  - concurrency: 100000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="concurrency"):
        load_suite(str(suite))


@pytest.mark.parametrize(
    ("argv", "error", "hint"),
    [
        (["--temperature", "nan"], "--temperature must be a finite number ≥ 0, not nan",
         "e.g. --temperature 0 (greedy) or 0.8"),
        (["--temperature", "inf"], "--temperature must be a finite number ≥ 0, not inf",
         "e.g. --temperature 0 (greedy) or 0.8"),
        (["--temperature", "-1"], "--temperature must be a finite number ≥ 0, not -1",
         "e.g. --temperature 0 (greedy) or 0.8"),
        (["--cooldown", "nan"], "--cooldown must be a finite number ≥ 0, not nan",
         "e.g. --cooldown 2 (seconds)"),
        (["--duration", "-1", "--rate", "1"],
         "--duration must be a positive number of seconds, not -1", "e.g. --rate 2 --duration 60"),
        (["--duration", "nan", "--rate", "1"],
         "--duration must be a positive number of seconds, not nan", "e.g. --rate 2 --duration 60"),
        (["--max-tokens", "0"], "--max-tokens: 0 is below 1", "e.g. --max-tokens 1"),
        (["--seed", "-5"], "--seed must be ≥ 0, or -1 for a random seed, not -5", "e.g. --seed 42"),
    ],
)  # fmt: skip
def test_non_finite_and_negative_values_get_one_line_and_a_hint(
    argv: list[str], error: str, hint: str
) -> None:
    result = runner.invoke(app, ["bench", "m:1b", "--host", UNREACHABLE, "--no-save", *argv])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"Error: {error}", f"Hint: {hint}"]
