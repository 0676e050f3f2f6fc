"""`llmbox hw-estimate` and `llmbox chips` as a user meets them: exit codes, output, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"


def test_single_estimate_answers_speed_and_fit() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "m4pro", "--model", "llama3.2-vision:11b"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Apple M4 Pro (20-core GPU)" in out
    for word in ("prefill", "decode", "TTFT", "KV cache", "fits on the GPU"):
        assert word in out


def test_compare_prints_speedup() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "m2", "--chip", "m4pro", "-m", "llama3.2-vision:11b"]
    )
    assert result.exit_code == 0, result.output
    assert "m2-8c" in result.stdout
    assert "m4pro-20c" in result.stdout
    assert "1.00x (base)" in result.stdout
    same = runner.invoke(app, ["hw-estimate", "--compare", "m2,m4pro", "-m", "llama3.2-vision:11b"])
    assert same.stdout == result.stdout


def test_json_has_bench_metric_names() -> None:
    result = runner.invoke(
        app,
        [
            "hw-estimate",
            "-c",
            "rtx4090",
            "-m",
            "llama3.1:8b",
            "-f",
            "json",
            "--prompt-tokens",
            "1000",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["workload"]["prompt_tokens"] == 1000
    assert data["decode_tps"] > data["memory"]["total_gib"]  # a sanity bound: 4090 decodes 8B fast
    assert {"prefill_tps", "decode_tps", "ttft_s", "e2e_s"} <= set(data)


def test_partial_offload_verdict() -> None:
    result = runner.invoke(app, ["hw-estimate", "-c", "4090", "-m", "llama3.3:70b"])
    assert result.exit_code == 0
    assert "partial offload" in result.stdout
    assert "CPU/GPU" in result.stdout  # as `ollama ps` shows the split
    assert "spill to system RAM" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--chip", "m4proo", "--model", "llama3.2"], "unknown chip 'm4proo'"),
        (
            ["--chip", "m4pro", "--model", "llama3.2", "--gen-tokens", "-1"],
            "--gen-tokens must not be negative",
        ),
        (
            ["--chip", "m4pro", "--model", "llama3.2", "--prompt-tokens", "-5"],
            "--prompt-tokens must not be negative",
        ),
        (
            ["--chip", "m4pro", "--params", "7b", "--quant", "q4_k_z"],
            "unknown quantization 'q4_k_z'",
        ),
        (["--chip", "m4pro", "--model", "nosuchmodel:1b"], "not in the catalog"),
        (["--model", "llama3.2"], "which chip?"),
        (["--chip", "m4pro"], "which model?"),
    ],
)
def test_bad_input_is_exit_2_with_a_clear_message(argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["hw-estimate", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_unknown_chip_hint_names_close_matches() -> None:
    result = runner.invoke(app, ["hw-estimate", "--chip", "rtx 4900", "-m", "llama3.2"])
    assert result.exit_code == 2
    assert "rtx4090" in result.stderr


def test_this_machine() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--chip", "this", "-m", "qwen2.5:0.5b", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chip"]["id"] in ("this",) or data["chip"]["family"] == "apple-metal"
    assert data["decode_tps"] > 0


def test_params_and_quant_without_catalog() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "-c", "m4max", "--params", "14b", "--quant", "q8_0", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"]["quantization"] == "Q8_0"
    assert data["memory"]["weights_gib"] == pytest.approx(14e9 * 8.5 / 8 / 2**30, rel=1e-3)


def test_calibrate_from_bench_json() -> None:
    result = runner.invoke(
        app, ["hw-estimate", "--calibrate", str(DATA / "bench_m2.json"), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chip"]["id"] == "m2-8c"  # from machine.chip
    rows = data["rows"]
    assert len(rows) == 2
    for row in rows:
        before = abs(row["predicted_before"]["decode_tps"] - row["measured"]["decode_tps"])
        after = abs(row["predicted_after"]["decode_tps"] - row["measured"]["decode_tps"])
        assert after < before
    table = runner.invoke(app, ["hw-estimate", "--calibrate", str(DATA / "bench_m2.json")])
    assert "decode_bw_eff" in table.stdout


def test_calibrate_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema": "other"}')
    result = runner.invoke(app, ["hw-estimate", "--calibrate", str(path)])
    assert result.exit_code == 2
    assert "not an llmbox benchmark result" in result.stderr


def test_chips_lists_and_filters() -> None:
    result = runner.invoke(app, ["chips", "--vendor", "nvidia"])
    assert result.exit_code == 0
    assert "rtx4090" in result.stdout
    assert "m4pro" not in result.stdout
    data = json.loads(runner.invoke(app, ["chips", "-f", "json"]).stdout)
    assert len(data) >= 60
    m4 = next(c for c in data if c["id"] == "m4pro-20c")
    assert m4["bw_gbs"] == 273
    assert m4["sources"]
    bad = runner.invoke(app, ["chips", "--vendor", "acme"])
    assert bad.exit_code == 2


def test_estimate_does_not_import_the_http_stack() -> None:
    code = (
        "import sys; from llmbox.cli import app\n"
        "try:\n    app(['hw-estimate','--chip','m4pro','--model','llama3.2:3b'])\n"
        "except SystemExit: pass\n"
        "print('httpx' in sys.modules, 'rich' in sys.modules, 'gguf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False False"


def test_help_defaults_match_the_core() -> None:
    from llmbox.cli import hw
    from llmbox.hw import estimate

    assert hw._PROMPT_TOKENS == estimate.DEFAULT_PROMPT_TOKENS
    assert hw._GEN_TOKENS == estimate.DEFAULT_GEN_TOKENS
    assert hw._RUNNER == estimate.DEFAULT_RUNNER


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--params", "7", "--memory", "nan"], "--memory nan: expected a size in GB"),
        (["--params", "7", "--memory", "inf"], "--memory inf: expected a size in GB"),
        (["--params", "7", "--memory", "-1"], "--memory -1: expected a size in GB"),
        (["--params", "7", "--images", "-1"], "--images must not be negative"),
        (["--params", "50000"], "a count below a million without a unit"),
        (["--params", "100k"], "fewer than a million parameters"),
        (["--params", "nan"], "finite positive number"),
        (["--params", "-7b"], "finite positive number"),
        (["--params", "seven"], "not a number"),
        (
            ["-m", "llama3.1:8b", "--context", "256", "--prompt-tokens", "512"],
            "--context 256 is smaller than the prompt (512 tokens)",
        ),
        (
            ["-m", "llama3.1:8b", "--context", "1000000"],
            "--context 1000000 is beyond llama3.1:8b's maximum of 131072 tokens",
        ),
        (
            ["-m", "llama3.1:8b", "--prompt-tokens", "200000"],
            "--prompt-tokens 200000 is beyond llama3.1:8b's maximum context",
        ),
    ],
)
def test_nonsense_numbers_are_usage_errors(argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["hw-estimate", "--chip", "m4pro", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the message and its hint
    assert "Traceback" not in result.output


def test_bare_params_mean_billions_and_help_says_so() -> None:
    bare = runner.invoke(app, ["hw-estimate", "-c", "m4pro", "--params", "7", "-f", "json"])
    unit = runner.invoke(app, ["hw-estimate", "-c", "m4pro", "--params", "7b", "-f", "json"])
    count = runner.invoke(app, ["hw-estimate", "-c", "m4pro", "--params", "7e9", "-f", "json"])
    assert bare.exit_code == 0, bare.output
    assert json.loads(bare.stdout)["model"]["params"] == 7e9
    assert bare.stdout == unit.stdout == count.stdout
    assert json.loads(bare.stdout)["decode_tps"] < 200  # not the 295,188 tok/s of a 7-param model
    help_text = runner.invoke(app, ["hw-estimate", "--help"], env={"COLUMNS": "200"}).stdout
    assert "bare number is billions" in " ".join(help_text.split())


def test_answer_past_the_context_is_a_note_not_an_error() -> None:
    argv = ["hw-estimate", "-c", "m4pro", "-m", "llama3.1:8b", "--context", "600", "-f", "json"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert any("context shift" in n for n in json.loads(result.stdout)["notes"])


def test_json_is_an_object_for_one_chip_and_an_array_for_several() -> None:
    base = ["hw-estimate", "-m", "llama3.2:3b", "-f", "json"]
    one = json.loads(runner.invoke(app, [*base, "-c", "m4pro"]).stdout)
    one_compare = json.loads(runner.invoke(app, [*base, "--compare", "m4pro"]).stdout)
    several = json.loads(runner.invoke(app, [*base, "-c", "m2", "--compare", "m4pro,4090"]).stdout)
    assert isinstance(one, dict)
    assert one_compare == one
    assert isinstance(several, list)
    assert [e["chip"]["id"] for e in several] == ["m2-8c", "m4pro-20c", "rtx4090"]
    assert several[1] == one
