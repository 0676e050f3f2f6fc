"""Request mixes: lengths from distributions, JSONL datasets, multi-turn chats and the cache."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.bench.datasets import load_jsonl, part_image
from llmbox.bench.mixes import Lengths, parse_lengths
from llmbox.cli import app
from llmbox.errors import UsageError
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()


def bench(fake: FakeOllama, *argv: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url, "-f", "json", "-q"])
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    BenchReport.parse(data)
    return data


def usage_error(fake: FakeOllama, *argv: str) -> str:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


# -- distributions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512", Lengths("fixed", 512)),
        ("256:2048", Lengths("uniform", 256, 2048)),
        ("1k:2k", Lengths("uniform", 1024, 2048)),
        ("1024~256", Lengths("normal", 1024, 256)),
        ("300:300", Lengths("fixed", 300)),
        ("300~0", Lengths("fixed", 300)),
    ],
)
def test_length_forms(text: str, expected: Lengths) -> None:
    assert parse_lengths(text, "--prompt-tokens") == expected


@pytest.mark.parametrize("text", ["2048:256", "0:10", "abc", "10~-3", "~5", "5:", "0"])
def test_bad_lengths_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_lengths(text, "--prompt-tokens")
    assert "--prompt-tokens" in err.value.message


def test_draws_follow_the_distribution() -> None:
    rng = random.Random(1)
    uniform = [Lengths("uniform", 100, 200).draw(rng) for _ in range(4000)]
    assert min(uniform) == 100
    assert max(uniform) == 200
    assert abs(statistics.mean(uniform) - 150) < 2
    normal = [Lengths("normal", 1000, 100).draw(rng) for _ in range(4000)]
    assert abs(statistics.mean(normal) - 1000) < 8
    assert abs(statistics.stdev(normal) - 100) < 6
    assert min(Lengths("normal", 10, 50).draw(rng) for _ in range(500)) >= 1  # clipped


def test_prompt_and_output_lengths_vary_per_request(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("mix:1b", prefill_tps=50_000, decode_tps=5_000))
    argv = ["mix:1b", "--runs", "12", "--prompt-tokens", "100:400", "--max-tokens", "8:40"]
    data = bench(fake_ollama, *argv)
    result = data["results"][0]
    assert result["case"]["label"] == "pp100:400 tg8:40"
    assert result["case"]["prompt_dist"] == "100:400"
    prompts = [r["prompt_eval_count"] for r in result["runs"]]
    outputs = [r["eval_count"] for r in result["runs"]]
    assert len(set(prompts)) >= 8
    assert min(prompts) >= 80
    assert max(prompts) <= 440
    assert len(set(outputs)) >= 6
    assert min(outputs) >= 8
    assert max(outputs) <= 40
    assert not result["warnings"] or all(w["code"] != "short_reply" for w in result["warnings"])
    again = bench(fake_ollama, *argv)["results"][0]["runs"]
    assert [r["eval_count"] for r in again] == outputs  # the same seed draws the same lengths


def test_distribution_beyond_num_ctx_is_refused(fake_ollama: FakeOllama) -> None:
    out = usage_error(fake_ollama, "llama3.2", "--prompt-tokens", "256:4096", "--num-ctx", "2048")
    assert "--num-ctx" in out


# -- datasets --------------------------------------------------------------------------------------


def _write(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_dataset_prompts_images_and_history(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    (tmp_path / "part.png").write_bytes(part_image(True, random.Random(1)))
    data_file = _write(
        tmp_path / "prompts.jsonl",
        {"id": "a", "prompt": "tell me about rivers"},
        {"id": "b", "prompt": "describe this", "images": ["part.png"]},
        {"id": "c", "prompt": "and now", "history": [
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi"},
        ]},
    )  # fmt: skip
    data = bench(fake_ollama, "llama3.2-vision:11b", "--dataset", str(data_file), "--runs", "3")
    result = data["results"][0]
    assert result["case"]["label"] == "prompts tg128"
    assert [r["task"] for r in result["runs"]] == ["a", "b", "c"]
    truths = fake_ollama.truths[-3:]
    # a: marker + 4 words + <user> <end> <assistant>; b: + 16 image tokens; c: history counted
    assert truths[1]["prompt_tokens"] - truths[0]["prompt_tokens"] == 16 - 2
    assert truths[2]["prompt_tokens"] > 3 + 2 + 3 + 4  # two earlier messages were sent
    sent = [r for r in fake_ollama.requests if r.get("path") == "/api/chat"][-1]
    roles = [m["role"] for m in sent["json"]["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert max(t["cached_tokens"] for t in truths) <= 1  # the markers keep prefill honest


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"text": "hi"}', "prompt"),
        ('{"prompt": "hi", "images": ["missing.png"]}', "not found"),
        ('{"prompt": "hi", "expect": {"number": 1, "one_of": ["1"]}}', "exactly one"),
        ('{"prompt": "hi", "expect": {"json_schema": {"oneOf": []}}}', "oneOf"),
    ],
)
def test_bad_dataset_lines_name_file_and_line(
    fake_ollama: FakeOllama, tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "fine"}\n' + line + "\n", encoding="utf-8")
    out = usage_error(fake_ollama, "llama3.2", "--dataset", str(path))
    assert f"{path}:2" in out
    assert message in out


def test_dataset_refusals(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    assert "no prompts" in usage_error(fake_ollama, "llama3.2", "--dataset", str(empty))
    assert "not found" in usage_error(fake_ollama, "llama3.2", "--dataset", "nope.jsonl")
    assert "directory" in usage_error(fake_ollama, "llama3.2", "--dataset", str(tmp_path))
    out = usage_error(fake_ollama, "llama3.2", "--dataset", str(empty), "--prompt-tokens", "64")
    assert "not both" in out


def test_dataset_ids_must_be_unique(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", {"id": "x", "prompt": "a"}, {"id": "x", "prompt": "b"})
    with pytest.raises(UsageError, match="used twice"):
        load_jsonl(path)


# -- multi-turn chats and the prompt cache ---------------------------------------------------------


def test_turns_show_the_cache_effect(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("chat:1b", prefill_tps=4000, decode_tps=2000))
    argv = ["chat:1b", "--turns", "3", "--prompt-tokens", "300", "--max-tokens", "20"]
    data = bench(fake_ollama, *argv, "--runs", "2")
    shared, fresh = data["results"]
    assert shared["case"]["label"] == "pp300 tg20 turns3"
    assert fresh["case"]["label"] == "pp300 tg20 turns3 no-cache"
    assert [r["turn"] for r in shared["runs"]] == [1, 2, 3, 1, 2, 3]
    truths = fake_ollama.truths  # ... 6 shared turns, 1 warm-up, 6 turns with nothing shared
    cached_truths, fresh_truths = truths[-13:-7], truths[-6:]
    for t, run in zip(cached_truths, shared["runs"], strict=True):
        if run["turn"] > 1:  # the server reused the previous turn's prompt and answer
            assert run["shared_prefix_tokens"] >= t["cached_tokens"] - 1
            assert t["cached_tokens"] >= 0.9 * run["shared_prefix_tokens"]
    assert max(t["cached_tokens"] for t in fresh_truths) <= 1
    # Same amount of text either way (one marker more without the shared prefix).
    for a, b in zip(shared["runs"], fresh["runs"], strict=True):
        assert abs(a["prompt_eval_count"] - b["prompt_eval_count"]) <= 4
    # The shared case's prefill rate comes from first turns only: no cache inflation.
    assert shared["summary"]["prefill_tps"]["mean"] == pytest.approx(4000, rel=0.05)
    table = runner.invoke(app, ["bench", *argv, "--runs", "1", "--host", fake_ollama.url])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.stdout.splitlines() if "prompt cache" in x)
    assert "faster" in line
    assert "shared prefix, counted by the client" in line


def test_turns_need_chat_and_closed_loop(fake_ollama: FakeOllama) -> None:
    assert "--api chat" in usage_error(fake_ollama, "llama3.2", "--turns", "2", "--api", "generate")
    assert "closed loop" in usage_error(fake_ollama, "llama3.2", "--turns", "2", "--rate", "1")
    assert "closed loop" in usage_error(fake_ollama, "llama3.2", "--turns", "2", "--sweep")
