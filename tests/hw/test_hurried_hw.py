"""hw-estimate as a hurried user types it: what it says about options that make no sense."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmbox.cli import app

runner = CliRunner()
FIELD = [
    "-m",
    "llama3.2-vision:11b",
    "--images",
    "1",
    "--prompt-tokens",
    "18",
    "--gen-tokens",
    "78",
]


def test_a_memory_size_the_chip_is_not_sold_with_is_named() -> None:
    """`-c m2 -c m4pro --memory 16` sets 16 GB for both; no M4 Pro has 16 GB, and its row (a
    partial offload) must not pass for a machine one could buy without a word."""
    argv = ["hw-estimate", "-c", "m2", "-c", "m4pro", *FIELD, "--memory", "16"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "Apple M4 Pro (20-core GPU) is sold with 24/48/64 GB, not 16" in result.stdout
    assert "Apple M2 (8-core GPU) is sold with" not in result.stdout  # 16 GB is an M2 size
    offered = runner.invoke(app, ["hw-estimate", "-c", "m4pro", *FIELD, "--memory", "24"])
    assert "is sold with" not in offered.stdout


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        ("--images", "e.g. --images 1"),
        ("--gen-tokens", "e.g. --gen-tokens 128"),
        ("--prompt-tokens", "e.g. --prompt-tokens 512"),
    ],
)
def test_a_negative_count_gets_a_hint_that_fits_the_flag(flag: str, hint: str) -> None:
    result = runner.invoke(app, ["hw-estimate", "-c", "m4pro", "-m", "llama3.2", flag, "-1"])
    assert result.exit_code == 2
    assert hint in result.stderr


def test_the_field_case_json_is_only_json() -> None:
    result = runner.invoke(app, ["hw-estimate", "-c", "m2", *FIELD, "--memory", "16", "-f", "json"])
    data = json.loads(result.stdout)
    assert data["memory"]["processor"].endswith("CPU/GPU")


def test_chips_filter_matching_nothing_lists_the_kinds() -> None:
    result = runner.invoke(app, ["chips", "--kind", "gpu"])
    assert result.exit_code == 2
    assert "no chips match --kind gpu" in result.stderr
    assert "kinds: cpu, dgpu" in result.stderr
