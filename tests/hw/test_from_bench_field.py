"""`--from-bench` and `--calibrate` on the field case as a user's own run file holds it: a literal
prompt with one image on a 16 GB MacBook Air M2 (llama3.2-vision:11b, 18 prompt tokens in 1.715 s,
78 generated in 8.896 s, `ollama ps` 7%/93% CPU/GPU); and files that do not say their chip."""

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
PROMPT_S, DECODE_S = 1.715, 8.896


def _stat(value: float) -> dict[str, Any]:
    stat = {"n": 3, "mean": value, "sd": 0.0, "median": value, "min": value, "max": value}
    return {**stat, "p50": value, "p90": value, "p99": value}


def _field_file(tmp_path: Path, edit: Any = None) -> Path:
    data = json.loads(BENCH.read_text())
    result = copy.deepcopy(data["results"][0])
    result["model"] = "llama3.2-vision:11b"
    result["case"].update(label="prompt tg78 +img", prompt_tokens=None, max_tokens=78, images=1)
    result["model_info"].update(name="llama3.2-vision:11b", processor="7%/93% CPU/GPU")
    for run in result["runs"]:
        run.update(prompt_eval_count=18, prompt_eval_duration_ns=int(PROMPT_S * 1e9))
        run.update(eval_count=78, eval_duration_ns=int(DECODE_S * 1e9))
    result["summary"]["prefill_tps"] = _stat(18 / PROMPT_S)
    result["summary"]["decode_tps"] = _stat(78 / DECODE_S)
    data["results"] = [result]
    if edit:
        edit(data)
    path = tmp_path / "field.json"
    path.write_text(json.dumps(data))
    return path


def _scaled(path: Path, *extra: str) -> dict[str, Any]:
    argv = ["hw-estimate", "--from-bench", str(path), "--chip", "m4pro", "-f", "json", *extra]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    return rows[0]  # type: ignore[no-any-return]


def test_field_case_from_the_run_file_m4pro_takes_about_0_35_to_0_45_of_the_time(
    tmp_path: Path,
) -> None:
    row = _scaled(_field_file(tmp_path))
    assert row["measured_on"]["id"] == "m2-8c"
    assert row["prompt_tokens"] == 18  # a literal prompt: the length the server counted
    pre, dec = row["predicted"]["prefill_tps"], row["predicted"]["decode_tps"]
    assert pre is not None
    m4_s = 18 / pre + 78 / dec
    assert 0.35 <= m4_s / (PROMPT_S + DECODE_S) <= 0.45


def test_field_case_prompt_time_scales_with_the_vision_encoder(tmp_path: Path) -> None:
    """The 1.715 s hold the image encoder's time: scaled as text prefill alone it came out ~2x
    too fast (0.24 s), below even the direct estimate of prefill + image on the M4 Pro."""
    row = _scaled(_field_file(tmp_path))
    argv = ["-c", "m4pro", "-m", "llama3.2-vision:11b", "--images", "1", "--prompt-tokens", "18"]
    direct = runner.invoke(app, ["hw-estimate", *argv, "--gen-tokens", "78", "-f", "json"])
    est = json.loads(direct.stdout)
    scaled_s = 18 / row["predicted"]["prefill_tps"]
    assert scaled_s == pytest.approx(est["prefill_s"] + est["image_s"], rel=0.25)


def test_calibrate_leaves_out_split_runs_and_image_prefill(tmp_path: Path) -> None:
    """A run 7%/93% CPU/GPU cannot fit the GPU's factors (it fitted 59 % of the bandwidth, which
    every later estimate would then use); an image case's prompt time is not text prefill."""
    split = runner.invoke(app, ["hw-estimate", "--calibrate", str(_field_file(tmp_path))])
    assert split.exit_code == 2
    assert "ran 7%/93% CPU/GPU, not wholly on the GPU" in split.stderr

    def on_gpu(data: dict[str, Any]) -> None:
        data["results"][0]["model_info"]["processor"] = "100% GPU"
        data["machine"]["memory_bytes"] = 24 * 2**30

    fitted = runner.invoke(
        app, ["hw-estimate", "--calibrate", str(_field_file(tmp_path, on_gpu)), "-f", "json"]
    )
    assert fitted.exit_code == 0, fitted.output
    data = json.loads(fitted.stdout)
    assert data["factors_after"]["prefill_eff"] == data["factors_before"]["prefill_eff"]
    assert any("vision encoder" in s for s in data["skipped"])


def test_a_file_from_another_machine_must_name_its_chip(tmp_path: Path) -> None:
    """Not silently 'this machine': a file measured elsewhere that names no chip is refused."""

    def elsewhere(data: dict[str, Any]) -> None:
        data["machine"].update(chip=None, hostname="gpu-box-7", cpu="AMD EPYC 7763")

    path = _field_file(tmp_path, elsewhere)
    result = runner.invoke(app, ["hw-estimate", "--from-bench", str(path), "--chip", "m4pro"])
    assert result.exit_code == 2
    assert "measured on another machine (gpu-box-7, AMD EPYC 7763)" in result.stderr
    assert "--from-chip" in result.stderr
    given = runner.invoke(
        app, ["hw-estimate", "--from-bench", str(path), "-c", "m4pro", "--from-chip", "m2"]
    )
    assert given.exit_code == 0, given.output


def test_a_file_naming_an_nvidia_gpu_was_measured_on_it(tmp_path: Path) -> None:
    def cuda(data: dict[str, Any]) -> None:
        data["machine"] = {"os": "Linux 6.8", "cpu": "AMD Ryzen 9 7950X", "hostname": "rig"}
        data["machine"]["gpus"] = [{"name": "NVIDIA GeForce RTX 4090", "memory_mib": 24564}]
        data["results"][0]["model_info"]["processor"] = "100% GPU"

    row = _scaled(_field_file(tmp_path, cuda))
    assert row["measured_on"]["id"] == "rtx4090"

    def unknown(data: dict[str, Any]) -> None:
        cuda(data)
        data["machine"]["gpus"][0]["name"] = "NVIDIA Quantum Z9"

    result = runner.invoke(
        app, ["hw-estimate", "--from-bench", str(_field_file(tmp_path, unknown)), "-c", "m4pro"]
    )
    assert result.exit_code == 2
    assert "'NVIDIA Quantum Z9', which the chip catalog does not know" in result.stderr
