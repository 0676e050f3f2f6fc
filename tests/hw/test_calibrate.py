"""`--calibrate FILE --save` and `--from-bench FILE --chip X` end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app

runner = CliRunner()
BENCH = Path(__file__).parent / "data" / "bench_m2.json"


def _bench(tmp_path: Path, edit: Any = None) -> Path:
    data = json.loads(BENCH.read_text())
    if edit:
        edit(data)
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    return path


def _estimate(*extra: str) -> dict[str, Any]:
    argv = ["hw-estimate", "-c", "m2", "-m", "llama3.1:8b", "-f", "json", *extra]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_calibrate_save_changes_later_estimates_and_says_so() -> None:
    before = _estimate()
    saved = runner.invoke(app, ["hw-estimate", "--calibrate", str(BENCH), "--save"])
    assert saved.exit_code == 0, saved.output
    assert "saved" in saved.stderr
    after = _estimate()
    assert after["decode_tps"] == pytest.approx(12.0, rel=0.05)  # what the bench measured
    assert after["decode_tps"] < before["decode_tps"]
    assert any("your saved calibrated" in n for n in after["notes"])
    other = _estimate("--runner", "llama.cpp")  # saved for Ollama only
    assert not any("calibrated" in n for n in other["notes"])


def test_calibrate_honours_model_and_skips_concurrency(tmp_path: Path) -> None:
    def add_concurrent(data: dict[str, Any]) -> None:
        extra = copy.deepcopy(data["results"][0])
        extra["case"]["concurrency"] = 4
        extra["case"]["label"] = "c4"
        extra["summary"]["decode_tps"]["median"] = 40.0
        data["results"].append(extra)

    path = _bench(tmp_path, add_concurrent)
    result = runner.invoke(
        app, ["hw-estimate", "--calibrate", str(path), "-m", "llama3.1:8b", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["model"] for r in data["rows"]] == ["llama3.1:8b"]
    assert any("concurrency 4" in s for s in data["skipped"])
    missing = runner.invoke(app, ["hw-estimate", "--calibrate", str(path), "-m", "qwen3:8b"])
    assert missing.exit_code == 2
    assert "no results for --model qwen3:8b" in missing.stderr


def test_calibrate_rejects_impossible_fits(tmp_path: Path) -> None:
    def too_fast(data: dict[str, Any]) -> None:
        for r in data["results"]:
            r["summary"]["decode_tps"]["median"] *= 4  # 4x an M2's bandwidth

    result = runner.invoke(app, ["hw-estimate", "--calibrate", str(_bench(tmp_path, too_fast))])
    assert result.exit_code == 2, result.output
    assert "peak memory bandwidth" in result.stderr
    assert "--chip" in result.stderr
    fixed = runner.invoke(
        app, ["hw-estimate", "--calibrate", str(_bench(tmp_path, too_fast)), "-c", "m4max"]
    )
    assert fixed.exit_code == 0, fixed.output


def test_save_needs_calibrate() -> None:
    result = runner.invoke(app, ["hw-estimate", "-c", "m2", "-m", "llama3.2", "--save"])
    assert result.exit_code == 2
    assert "--save goes with --calibrate" in result.stderr


def test_from_bench_scales_each_case_by_the_two_chips() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--from-bench", str(BENCH), "--chip", "m4pro", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert len(rows) == 2
    for row in rows:
        assert row["measured_on"]["id"] == "m2-8c"
        # 273 vs 100 GB/s and 8.6 vs 2.9 TFLOPS, less the fixed per-layer costs
        assert 1.8 < row["predicted"]["decode_tps"] / row["measured"]["decode_tps"] < 2.8
        assert 2.5 < row["predicted"]["prefill_tps"] / row["measured"]["prefill_tps"] < 3.2
    table = runner.invoke(app, ["hw-estimate", "--from-bench", str(BENCH), "--chip", "m4pro"])
    assert "measured on Apple M2 (8-core GPU) -> predicted on Apple M4 Pro" in table.stdout


def test_from_bench_needs_a_source_chip_and_one_target(tmp_path: Path) -> None:
    def no_chip(data: dict[str, Any]) -> None:
        data["machine"]["chip"] = None

    path = _bench(tmp_path, no_chip)
    both = runner.invoke(
        app, ["hw-estimate", "--from-bench", str(path), "-c", "m4pro", "--from-chip", "m2"]
    )
    assert both.exit_code == 0, both.output
    two = runner.invoke(app, ["hw-estimate", "--from-bench", str(BENCH), "--compare", "m4,m4pro"])
    assert two.exit_code == 2
    assert "one target chip" in two.stderr
    wrong = runner.invoke(
        app, ["hw-estimate", "--from-bench", str(tmp_path / "nope.json"), "-c", "m4"]
    )
    assert wrong.exit_code == 2
    assert "Traceback" not in wrong.output


def test_damaged_saved_calibration_is_a_clear_error(tmp_path: Path) -> None:
    saved = runner.invoke(app, ["hw-estimate", "--calibrate", str(BENCH), "--save"])
    assert saved.exit_code == 0
    from llmbox.hw.calibrate import calibration_path

    calibration_path().write_text("{broken")
    result = runner.invoke(app, ["hw-estimate", "-c", "m2", "-m", "llama3.2"])
    assert result.exit_code == 2
    assert "delete" in result.stderr
