"""What a user in a hurry types: bad names, bad files, odd flags. One line, a hint, the right
exit code, and nothing sent to the server (issue 10, items 9, 14 and 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama

runner = CliRunner()
INSTALLED = {"llama3.2:latest", "qwen3:4b", "llama3.2-vision:11b"}


def cli(server: FakeOllama, *argv: str, input: str | None = None) -> Result:
    return runner.invoke(app, [*argv, "--host", server.url], input=input)


def one_error(result: Result) -> str:
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "Traceback" not in result.output
    assert "please report it" not in result.output
    return line


# -- model names ---------------------------------------------------------------------------------

BAD_NAMES = ["", "  ", "llama3.2:", "a//b", "two words", "ns/", "/m", "a/b/c/d", "m@sha256:xyz"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("command", ["pull", "rm", "show", "load", "unload"])
def test_a_malformed_model_name_is_a_usage_error_and_nothing_is_sent(
    fake_ollama: FakeOllama, command: str, name: str
) -> None:
    result = cli(fake_ollama, command, name)
    assert result.exit_code == 2, result.output
    assert one_error(result).startswith(f"Error: invalid model name {name!r}: ")
    assert "Hint: e.g. llama3.2, qwen2.5:0.5b or hf.co/ORG/REPO:Q4_K_M" in result.stderr
    assert fake_ollama.requests == []


def test_one_bad_name_among_several_stops_before_the_first_download(
    fake_ollama: FakeOllama,
) -> None:
    result = cli(fake_ollama, "pull", "smollm2:135m", "qwen2.5:")
    assert result.exit_code == 2
    assert fake_ollama.requests == []
    assert set(fake_ollama.models) == INSTALLED
    rm = cli(fake_ollama, "rm", "llama3.2", "")
    assert rm.exit_code == 2
    assert set(fake_ollama.models) == INSTALLED


@pytest.mark.parametrize(
    "name",
    ["llama3.2", "Qwen2.5:0.5B", "registry.ollama.ai/library/qwen3:4b", "library/qwen3:4b"],
)
def test_valid_spellings_reach_the_same_model(fake_ollama: FakeOllama, name: str) -> None:
    result = cli(fake_ollama, "show", name)
    assert result.exit_code in (0, 4), result.output  # accepted by llmbox; the server decides
    assert fake_ollama.requests


# -- hints that point the right way -------------------------------------------------------------


def test_rm_unknown_model_hints_the_listing_not_a_pull(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "rm", "nosuch")
    assert result.exit_code == 4
    assert one_error(result) == "Error: model 'nosuch' not found"
    assert "llmbox pull" not in result.stderr
    assert "Hint: llmbox list shows the installed models" in result.stderr


@pytest.mark.parametrize("zero", ["0", "0s", "0m", "0h0m", "-0"])
def test_load_keep_alive_zero_is_refused_and_never_says_loaded(
    fake_ollama: FakeOllama, zero: str
) -> None:
    result = cli(fake_ollama, "load", "qwen3:4b", "--keep-alive", zero)
    assert result.exit_code == 2, result.output
    assert "loaded" not in result.stdout
    assert one_error(result).startswith("Error: keep-alive 0 unloads the model at once")
    assert "Hint: llmbox unload qwen3:4b unloads it" in result.stderr
    assert "/api/generate" not in [r["path"] for r in fake_ollama.requests]


def test_a_load_whose_keep_alive_ran_out_does_not_claim_it_is_in_memory() -> None:
    from llmbox.provision import ModelChange
    from llmbox.report.provision import render_changes

    text = render_changes([ModelChange("m", "loaded", running=None)])
    assert text == "loaded    m  (not in memory any more: its keep-alive ran out)\n"


def test_unload_a_model_that_was_not_loaded_says_so(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "unload", "qwen3:4b")
    assert result.exit_code == 0
    assert result.stdout == "unloaded  qwen3:4b  (it was not loaded)\n"
    data = json.loads(cli(fake_ollama, "unload", "qwen3:4b", "-f", "json").stdout)
    assert data["was_loaded"] is False


# -- one JSON shape per command ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "shape"),
    [
        (["list"], list),
        (["ps"], list),
        (["pull", "smollm2:135m"], list),
        (["pull", "smollm2:135m", "qwen2.5:0.5b"], list),
        (["pull", "nosuch"], list),
        (["rm", "qwen3:4b"], list),
        (["rm", "qwen3:4b", "llama3.2"], list),
        (["show", "qwen3:4b"], dict),
        (["load", "qwen3:4b"], dict),
        (["unload", "qwen3:4b"], dict),
        (["sync", "SPEC"], dict),
        (["sync", "SPEC", "--dry-run"], dict),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v.__name__,
)
def test_one_json_shape_per_command_whatever_the_count(
    fake_ollama: FakeOllama, tmp_path: Path, argv: list[str], shape: type
) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text("models:\n  - llama3.2\n")
    argv = [str(spec) if a == "SPEC" else a for a in argv]
    result = cli(fake_ollama, *argv, "-f", "json")
    assert result.exit_code in (0, 4), result.output
    assert isinstance(json.loads(result.stdout), shape)


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"models:\n  - llama3.2\n  - caf\xe9\n", ":3: not UTF-8 text (byte 0xe9)"),
        ("models:\n  - llama3.2\n".encode("utf-16"), " is UTF-16 text, not UTF-8"),
        (b"", ": the file is empty (expected keys: models)"),
        (b"\x00\x01\x02", ": invalid YAML: "),
        (b"models:\n  - \x1b[31mred\n", ": invalid YAML: "),
        (b"models: {a: [}\n", ":1: invalid YAML: "),
        (b"models:\n  - name: x\n    keep_alive: .nan\n", ":3: field 'models.0.keep_alive'"),
        (b"models:\n  - name: x\n    keep_alive: 0\n", "keep_alive 0 would unload"),
        (b"models:\n  - 42\n", ":2: field 'models.0'"),
        (b"models:\n  - null\n", ":2: field 'models.0'"),
        (b"models:\n  - name: '-rf'\n", "invalid model name '-rf'"),
        (b"? [a]\n: b\n", "invalid YAML"),
        (b"[" * 5000, "invalid YAML"),
    ],
    ids=["latin-1", "utf-16", "empty", "binary", "escape", "syntax", "nan", "zero", "int",
         "null", "dash", "list-key", "deep"],
)  # fmt: skip
def test_a_bad_sync_file_is_one_line_exit_2_and_nothing_is_sent(
    fake_ollama: FakeOllama, tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "machine.yaml"
    path.write_bytes(content)
    result = cli(fake_ollama, "sync", str(path), "--prune", "--yes")
    assert result.exit_code == 2, result.output
    error = one_error(result)
    assert error.startswith(f"Error: {path}")
    assert says in error
    assert fake_ollama.requests == []
    assert set(fake_ollama.models) == INSTALLED


def test_sync_a_directory_or_a_missing_file_exit_2(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "nope.yaml"):
        result = cli(fake_ollama, "sync", str(target))
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert fake_ollama.requests == []


def test_sync_the_wrong_yaml_file_names_the_key_it_did_not_expect(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """A suite or a config file given to sync by mistake."""
    suite = tmp_path / "quick.yaml"
    suite.write_text("name: quick\ncases:\n  - prompt_tokens: 64\n")
    result = cli(fake_ollama, "sync", str(suite))
    assert result.exit_code == 2
    assert one_error(result) == f"Error: {suite}:1: unknown key 'name' (expected one of: models)"
    assert "Hint: the format is described in docs/provisioning.md" in result.stderr


# -- found by trying the commands in a hurry -----------------------------------------------------


def test_a_model_named_twice_is_pulled_or_removed_once(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "pull", "smollm2:135m", "SmolLM2:135m", "-f", "json")
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in json.loads(result.stdout)] == ["smollm2:135m"]
    assert [r["path"] for r in fake_ollama.requests].count("/api/pull") == 1
    rm = cli(fake_ollama, "rm", "qwen3:4b", "qwen3:4b")
    assert rm.exit_code == 0, rm.output
    assert rm.stdout == "deleted   qwen3:4b\n"


@pytest.mark.parametrize("value", ["99999999999999999999", "1e400", "nan", "100000000h"])
def test_a_keep_alive_beyond_what_the_server_can_hold_is_refused(
    fake_ollama: FakeOllama, value: str
) -> None:
    result = cli(fake_ollama, "load", "qwen3:4b", "--keep-alive", value)
    assert result.exit_code == 2, result.output
    assert f"Error: invalid keep_alive '{value}'" in result.stderr
    assert fake_ollama.requests == []


def test_sync_reads_standard_input_for_a_dash(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "sync", "-", "--dry-run", "-f", "json", input="models: [llama3.2]\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["present"] == ["llama3.2"]
    bad = cli(fake_ollama, "sync", "-", input="modelz: [llama3.2]\n")
    assert bad.exit_code == 2
    assert one_error(bad) == "Error: <stdin>:1: unknown key 'modelz' (did you mean 'models'?)"
    # the file came on stdin, so no one can answer the question: pruning needs --yes
    prune = cli(fake_ollama, "sync", "-", "--prune", input="models: [llama3.2]\n")
    assert prune.exit_code == 1
    assert "Error: nothing changed: pruning was not confirmed" in prune.stderr
    assert set(fake_ollama.models) == INSTALLED


def test_ctrl_c_during_a_pruning_sync_removes_nothing(tmp_path: Path) -> None:
    """A real process and a real SIGINT while the first pull hangs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.fakes.ollama import Fault

    spec = tmp_path / "machine.yaml"
    spec.write_text("models:\n  - llama3.2\n  - smollm2:135m\n")
    with FakeOllama() as server:
        server.inject(Fault("/api/pull", "slow", delay_s=2.0))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA_", "LLMBOX_"))}
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmbox", "sync", str(spec), "--prune", "--yes",
             "--host", server.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while "/api/pull" not in [r["path"] for r in server.requests]:
            assert time.monotonic() < deadline, "the pull never started"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert "Error: interrupted while pulling smollm2:135m; the partial download is kept" in err
        assert "Traceback" not in err
        assert "/api/delete" not in [r["path"] for r in server.requests]
        assert set(server.models) == INSTALLED
