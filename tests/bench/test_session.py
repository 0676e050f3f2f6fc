"""The bench session end to end against the fake Ollama: precedence, pre-flight, honest numbers
across invocations, queueing, output routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def bench(fake: FakeOllama, *argv: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url, "-f", "json", "-q"])
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    BenchReport.parse(data)
    return data


def generations(fake: FakeOllama) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"] in ("/api/chat", "/api/generate")]


def fails(fake: FakeOllama, *argv: str, code: int = 2) -> str:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not generations(fake), "nothing may be sent before the checks pass"
    return result.output


# -- precedence: flag > suite > default ---------------------------------------------------------


def test_a_given_flag_beats_the_suite_even_when_it_equals_the_default(
    fake_ollama: FakeOllama,
) -> None:
    data = bench(fake_ollama, "llama3.2", "--suite", "quick", "--runs", "5", "--warmup", "1",
                 "--max-tokens", "4")  # fmt: skip
    assert data["options"]["runs"] == 5
    assert data["options"]["warmup"] == 1
    assert all(len(r["runs"]) == 5 for r in data["results"])
    assert {r["case"]["max_tokens"] for r in data["results"]} == {4}  # every suite case


def test_the_suite_beats_the_defaults(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: s\nruns: 2\nwarmup: 0\ncases:\n  - prompt_tokens: 16\n    max_tokens: 3\n"
    )
    data = bench(fake_ollama, "llama3.2", "--suite", str(suite))
    assert (data["options"]["runs"], data["options"]["warmup"]) == (2, 0)
    assert data["results"][0]["case"]["label"] == "pp16 tg3"
    over = bench(fake_ollama, "llama3.2", "--suite", str(suite), "--prompt-tokens", "32")
    assert over["results"][0]["case"]["label"] == "pp32 tg3"


def test_a_suite_case_with_both_prompt_kinds_is_refused(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ncases:\n  - prompt: hi\n    prompt_tokens: 64\n")
    out = fails(fake_ollama, "llama3.2", "--suite", str(suite))
    assert "not both" in out
    assert "s.yaml" in out


def test_list_values_with_a_suite_are_refused(fake_ollama: FakeOllama) -> None:
    out = fails(fake_ollama, "llama3.2", "--suite", "quick", "--max-tokens", "8,16")
    assert "one value with --suite" in out


# -- pre-flight ----------------------------------------------------------------------------------


def test_image_that_is_not_an_image(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    out = fails(fake_ollama, "llama3.2-vision:11b", "--image", str(text))
    assert "is not an image" in out
    out = fails(fake_ollama, "llama3.2-vision:11b", "--image", str(tmp_path / "nope.png"))
    assert "not found" in out


def test_image_on_a_model_without_vision(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(PNG)
    out = fails(fake_ollama, "llama3.2", "--image", str(png))
    assert "llama3.2 cannot take images" in out
    assert "vision" in out


def test_think_on_a_model_without_thinking(fake_ollama: FakeOllama) -> None:
    out = fails(fake_ollama, "llama3.2", "--think")
    assert "does not support thinking" in out


def test_prompt_longer_than_the_context(fake_ollama: FakeOllama) -> None:
    out = fails(fake_ollama, "llama3.2", "--prompt-tokens", "4096", "--num-ctx", "2048")
    assert "does not fit --num-ctx 2048" in out
    fake_ollama.add(FakeModel("tiny:1b", context_length=1024))
    out = fails(fake_ollama, "tiny:1b", "--prompt-tokens", "2048")
    assert "exceeds the 1024-token context" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["llama3.2", "--prompt", "hi", "--prompt-tokens", "64"], "not both"),
        (["llama3.2", "--prompt", "   "], "the prompt is empty"),
        (["llama3.2", "llama3.2"], "listed twice"),
        ([" "], "empty model name"),
        (["llama3.2", "--cold", "--backend", "openai"], "--cold needs a server"),
        (["llama3.2", "--ignore-eos"], "--ignore-eos is not supported by the ollama backend"),
        (["llama3.2", "--max-regression", "10%"], "--max-regression needs --baseline"),
        (["llama3.2", "-o", "json:-", "-f", "csv"], "both ask for stdout"),
    ],
)
def test_bad_combinations_are_one_line_usage_errors(
    fake_ollama: FakeOllama, argv: list[str], message: str
) -> None:
    out = fails(fake_ollama, *argv)
    assert message in out


def test_prompt_file_that_is_not_utf8(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    bad = tmp_path / "p.txt"
    bad.write_bytes(b"caf\xe9 au lait")
    assert "not UTF-8" in fails(fake_ollama, "llama3.2", "--prompt-file", str(bad))


# -- honest numbers across invocations ------------------------------------------------------------


def test_a_second_invocation_meets_no_cached_prompt(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """A server that caches every earlier prompt (llama.cpp, vLLM prefix caching): the second
    `llmbox bench` must measure the same server, not its cache."""
    fake_ollama.cache_every_prompt = True
    fake_ollama.add(FakeModel("cache:1b", prefill_tps=1000.0, decode_tps=400.0))
    argv = ("cache:1b", "--runs", "3", "--prompt-tokens", "200", "--max-tokens", "4")
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    a = bench(fake_ollama, *argv, "-o", f"json:{first}")
    b = bench(fake_ollama, *argv, "-o", f"json:{second}")
    assert a["options"]["nonce"] != b["options"]["nonce"]
    assert all(t["cached_tokens"] <= 2 for t in fake_ollama.truths)  # only the role token
    for data in (a, b):
        prefill = data["results"][0]["summary"]["prefill_tps"]["mean"]
        assert prefill == pytest.approx(1000.0, rel=0.05)
        assert data["results"][0]["summary"]["ttft_s"]["mean"] > 0.15  # ~200 tokens at 1000/s
    compared = runner.invoke(app, ["bench", "compare", str(first), str(second),
                                   "--max-regression", "10%"])  # fmt: skip
    assert compared.exit_code == 0, compared.output


def test_random_seed_still_sends_new_prompts(fake_ollama: FakeOllama) -> None:
    data = bench(fake_ollama, "llama3.2", "--seed", "-1", "--runs", "2", "--max-tokens", "2",
                 "--prompt-tokens", "16")  # fmt: skip
    assert data["options"]["seed"] is None
    prompts = [r["json"]["messages"][0]["content"] for r in generations(fake_ollama)]
    assert len(set(prompts)) == len(prompts)
    assert all("seed" not in r["json"]["options"] for r in generations(fake_ollama))


def test_baseline_without_threshold_gates_at_the_documented_default(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    base = tmp_path / "base.json"
    fake_ollama.add(FakeModel("reg:1b", decode_tps=400.0))
    argv = ("reg:1b", "--runs", "3", "--max-tokens", "20", "--prompt-tokens", "16")
    bench(fake_ollama, *argv, "-o", f"json:{base}")
    fake_ollama.models["reg:1b"].decode_tps = 300.0  # 25 % slower
    data = bench(fake_ollama, *argv, "--baseline", str(base), code=5)
    failed = [g for g in data["gates"] if not g["passed"]]
    assert {g["metric"] for g in failed} >= {"decode_tps"}
    assert all(g["limit"] == 10 for g in data["gates"])


def test_queueing_is_reported_as_queueing(fake_ollama: FakeOllama) -> None:
    fake_ollama.num_parallel = 1
    fake_ollama.add(FakeModel("q:1b", prefill_tps=2000.0, decode_tps=200.0))
    data = bench(fake_ollama, "q:1b", "--runs", "2", "--warmup", "1", "--concurrency", "4",
                 "--max-tokens", "20", "--prompt-tokens", "16")  # fmt: skip
    result = data["results"][0]
    waits = sorted(r["queue_s"] for r in result["runs"])
    assert waits[0] < 0.1  # the first of each batch got the slot at once
    assert waits[-1] > 0.2  # the last waited for three replies of 0.1 s
    codes = {w["code"] for w in result["warnings"]}
    assert "queued" in codes
    assert "timing_mismatch" not in codes
    queued = next(w for w in result["warnings"] if w["code"] == "queued")
    assert "waited for a free slot" in queued["message"]
    assert "OLLAMA_NUM_PARALLEL" in queued["advice"]
    assert result["summary"]["requests_per_s"]["mean"] > 0
    for key in ("queue_s", "ttft_s", "e2e_s"):  # latency tails at every concurrency
        assert result["summary"][key]["p90"] is not None
        assert result["summary"][key]["p99"] is not None


def test_interleave_alternates_models_and_records_the_order(fake_ollama: FakeOllama) -> None:
    data = bench(fake_ollama, "llama3.2", "qwen3:4b", "--order", "interleave", "--runs", "3",
                 "--warmup", "0", "--prompt", "hi", "--max-tokens", "2")  # fmt: skip
    models = [r["json"]["model"] for r in generations(fake_ollama)]
    assert models == ["llama3.2", "qwen3:4b"] * 3
    assert data["options"]["order"] == "interleave"


def test_output_dash_means_stdout(fake_ollama: FakeOllama, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url, "--runs", "1",
                                 "--max-tokens", "2", "--prompt", "hi", "-o", "csv:-", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("model,case,")
    assert not (tmp_path / "-").exists()


def test_progress_lines_name_each_warning_advice_once(fake_ollama: FakeOllama) -> None:
    fake_ollama.models["llama3.2:latest"].reply_tokens = 2  # every reply stops short
    result = runner.invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url, "--runs", "2",
                                 "--max-tokens", "8,16", "--prompt", "hi"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.count("stopped before --max-tokens") == 2
    assert result.stderr.count("ask for a longer answer") == 1


def test_open_loop_with_slo_reports_goodput_and_the_sustained_rate(fake_ollama: FakeOllama) -> None:
    fake_ollama.num_parallel = 4
    result = runner.invoke(app, ["bench", "llama3.2", "--host", fake_ollama.url, "--rate", "4,8",
                                 "--requests", "12", "--max-tokens", "8", "--prompt", "hi",
                                 "--slo", "ttft_s=5,e2e_s=10", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sustains" in result.stdout
    assert "req/s of prompt tg8 with 99% within ttft_s ≤ 5 s and e2e_s ≤ 10 s" in result.stdout
    data = bench(fake_ollama, "llama3.2", "--rate", "4", "--requests", "12", "--max-tokens", "8",
                 "--prompt", "hi", "--slo", "ttft_ms=1")  # fmt: skip
    summary = data["results"][0]["summary"]
    assert summary["slo_pass"]["mean"] == 0.0  # nobody answers in a millisecond
    assert summary["goodput"]["mean"] == 0.0
    assert data["options"]["slo"] == {"ttft_s": 0.001}
    assert data["results"][0]["case"]["rate"] == 4.0
    assert len(data["results"][0]["runs"]) == 12


def test_sweep_goes_from_one_at_a_time_to_saturation_and_back_fills(
    fake_ollama: FakeOllama,
) -> None:
    fake_ollama.num_parallel = 2
    data = bench(fake_ollama, "llama3.2", "--sweep", "--requests", "6", "--runs", "2",
                 "--max-concurrency", "4", "--max-tokens", "8", "--prompt", "hi")  # fmt: skip
    cases = [r["case"] for r in data["results"]]
    assert [c["concurrency"] for c in cases[:2]] == [1, 4]
    rates = [c["rate"] for c in cases[2:]]
    assert len(rates) == 6
    assert rates == sorted(rates)
    solo, full = (r["summary"]["requests_per_s"]["mean"] for r in data["results"][:2])
    assert solo < rates[0] < rates[-1] < max(full, solo * 1.1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "not a positive number"),
        (["--rate", "1", "--concurrency", "2"], "not both"),
        (["--arrivals", "gamma:0"], "--arrivals applies to open-loop load"),
        (["--rate", "1", "--arrivals", "gamma:-1"], "expected poisson, constant or gamma:K"),
        (["--rate", "1", "--requests", "5", "--duration", "3"], "--requests or --duration"),
        (["--slo", "ttft=2"], "expected NAME=LIMIT"),
        (["--slo", "ttft_s=-1"], "must be a positive number"),
        (["--sweep", "--rate", "2"], "--sweep chooses its own load"),
    ],
)
def test_bad_load_options(fake_ollama: FakeOllama, argv: list[str], message: str) -> None:
    assert message in fails(fake_ollama, "llama3.2", *argv)


class _SteadyMeter:
    """A meter drawing a steady 40 W (a cumulative energy counter, like RAPL's)."""

    name = "rapl"
    scope = "package (test)"
    closed = False

    def read(self, now: float) -> Any:
        from llmbox.power import Sample

        return Sample(t=now, joules=40.0 * now)

    def close(self) -> None:
        type(self).closed = True


def test_power_is_measured_per_case_and_gives_joules_per_token(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmbox.power

    monkeypatch.setattr(llmbox.power, "open_meter", lambda kind: _SteadyMeter())
    fake_ollama.add(FakeModel("watt:1b", decode_tps=100.0))
    data = bench(fake_ollama, "watt:1b", "--power", "rapl", "--runs", "2", "--max-tokens", "20",
                 "--prompt", "hi")  # fmt: skip
    power = data["results"][0]["power"]
    assert power["source"] == "rapl"
    assert power["watts"] == pytest.approx(40.0, rel=0.01)
    assert power["seconds"] >= 0.4  # two runs of 20 tokens at 100 tok/s
    assert data["options"]["power"] == "rapl"
    report = BenchReport.parse(data)
    assert report.results[0].joules_per_token == pytest.approx(power["joules"] / 40, rel=0.01)
    assert _SteadyMeter.closed


def test_power_none_and_a_meter_that_cannot_work(fake_ollama: FakeOllama) -> None:
    data = bench(fake_ollama, "llama3.2", "--runs", "1", "--max-tokens", "2", "--prompt", "hi")
    assert data["results"][0]["power"] is None
    fake_ollama.requests.clear()
    out = fails(fake_ollama, "llama3.2", "--power", "nvml")  # no NVIDIA driver here
    assert "Error:" in out
    assert "unknown meter" in fails(fake_ollama, "llama3.2", "--power", "wattmeter")


# -- the results store ----------------------------------------------------------------------------


def test_every_run_is_saved_and_the_next_compares_with_the_last(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    fake_ollama.add(FakeModel("hist:1b", decode_tps=400.0))
    argv = ["bench", "hist:1b", "--host", fake_ollama.url, "--runs", "3", "--max-tokens", "20",
            "--prompt-tokens", "16", "--db", db]  # fmt: skip
    first = runner.invoke(app, [*argv, "--tag", "git=abc"])
    assert first.exit_code == 0, first.output
    assert "saved as run 1 in" in first.stderr
    assert f"llmbox report --model hist:1b --db {db} -o report.html" in first.stderr
    same = runner.invoke(app, [*argv, "--baseline", "last", "-f", "json", "-q"])
    # an unchanged server is no regression in what the server times itself (client-side times
    # may wobble on a loaded CI machine)
    assert same.exit_code in (0, 5), same.output
    failed_same = {g["metric"] for g in json.loads(same.stdout)["gates"] if not g["passed"]}
    assert not failed_same & {"decode_tps", "prefill_tps"}
    fake_ollama.models["hist:1b"].decode_tps = 250.0
    slower = runner.invoke(app, [*argv, "--baseline", "last", "-f", "json", "-q"])
    assert slower.exit_code == 5, slower.output
    failed = [g for g in json.loads(slower.stdout)["gates"] if not g["passed"]]
    assert "decode_tps" in {g["metric"] for g in failed}
    # which run it was compared with travels in the report, and the table says it
    assert json.loads(slower.stdout)["baseline"]["source"] == f"run 2 in {tmp_path / 'h.db'}"
    shown = runner.invoke(app, [*argv, "--baseline", "1", "--no-save"])
    assert f"baseline run 1 in {tmp_path / 'h.db'} (--baseline 1, started " in shown.stdout
    assert "metrics significantly worse by more than 10%" in shown.stdout
    listed = runner.invoke(app, ["history", "--db", db, "-f", "json"])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert len(runs) == 3
    assert any(r["tags"] == {"git": "abc"} for r in runs)
    skipped = runner.invoke(app, [*argv, "--no-save", "-q"])
    assert skipped.exit_code == 0, skipped.output
    again = json.loads(runner.invoke(app, ["history", "--db", db, "-f", "json"]).stdout)
    assert len(again) == 3


def test_a_store_that_cannot_be_opened_fails_before_the_first_request(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello\n" * 100)
    out = fails(fake_ollama, "llama3.2", "--db", str(not_a_db), code=6)
    assert "not an llmbox history database" in out


def test_a_stable_machine_name_for_ci_runners(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBOX_MACHINE", "gpu-runner-a")
    data = bench(fake_ollama, "llama3.2", "--runs", "1", "--max-tokens", "2", "--prompt", "hi")
    assert data["machine"]["name"] == "gpu-runner-a"


def test_a_baseline_file_with_nothing_in_common_or_an_empty_spec_is_refused_up_front(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    saved = tmp_path / "base.json"
    data = bench(fake_ollama, "llama3.2", "--runs", "1", "--max-tokens", "2", "--prompt-tokens",
                 "32", "-o", f"json:{saved}")  # fmt: skip
    assert data["results"]
    fake_ollama.requests.clear()
    # another case entirely: comparing would call every metric "significantly worse"
    out = fails(fake_ollama, "llama3.2", "--prompt-tokens", "64", "--max-tokens", "2",
                "--baseline", str(saved))  # fmt: skip
    assert "shares no model and case with this run" in out
    assert "llama3.2 pp32 tg2" in out
    assert "--baseline is empty" in fails(fake_ollama, "llama3.2", "--baseline", "")
