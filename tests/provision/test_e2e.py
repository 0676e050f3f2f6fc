"""The provisioning commands end to end: the real CLI against the fake Ollama server.

Each test checks what a user sees (exit code, data on stdout, messages on stderr) and what the
server holds afterwards (``fake_ollama.models``, ``loaded``, ``requests``). The retry backoff is
replaced by a fake clock, so no test sleeps it out.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from llmbox.cli import app
from tests.fakes.ollama import FakeOllama, Fault
from tests.provision._mock import FakeClock

runner = CliRunner()

INSTALLED = {"llama3.2:latest", "qwen3:4b", "llama3.2-vision:11b"}
NOT_EXIST = "pull model manifest: file does not exist"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The pull backoff waits on a fake clock: retries are recorded, never slept."""
    fake = FakeClock()
    monkeypatch.setattr("llmbox.provision._pull.backoff_sleep", fake.sleep)
    return fake


def cli(server: FakeOllama, *argv: str, input: str | None = None) -> Result:
    return runner.invoke(app, [*argv, "--host", server.url], input=input)


def paths(server: FakeOllama, *only: str) -> list[str]:
    return [r["path"] for r in server.requests if not only or r["path"] in only]


def rows(table: str) -> list[list[str]]:
    """A table's body rows, split on whitespace (header and rule dropped)."""
    return [line.split() for line in table.strip().splitlines()[2:]]


def _dead_host() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


# -- pull ---------------------------------------------------------------------------------------


def test_pull_reports_the_model_and_it_is_then_listed(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "pull", "smollm2:135m", "-f", "json")
    assert result.exit_code == 0, result.output
    (data,) = json.loads(result.stdout)
    installed = fake_ollama.registry["smollm2:135m"].model
    assert data["model"] == "smollm2:135m"
    assert data["status"] == "success"
    assert data["digest"] == installed.digest
    assert data["size"] == 270_898_672
    assert data["attempts"] == 1
    assert isinstance(data["seconds"], float)
    assert "error" not in data
    assert result.stderr.splitlines()[-1] == "smollm2:135m: success"

    assert "smollm2:135m" in fake_ollama.models
    pulls = [r["json"] for r in fake_ollama.requests if r["path"] == "/api/pull"]
    assert pulls == [{"model": "smollm2:135m", "insecure": False, "stream": True}]
    assert fake_ollama.partial == {}

    listed = cli(fake_ollama, "list")
    assert listed.exit_code == 0
    row = next(r for r in rows(listed.stdout) if r[0] == "smollm2:135m")
    assert row[1:6] == [installed.digest[:12], "270.9", "MB", "135M", "F16"]
    names = [m["name"] for m in json.loads(cli(fake_ollama, "list", "-f", "json").stdout)]
    assert sorted(names) == sorted({*INSTALLED, "smollm2:135m"})


def test_pull_table_summary_on_stdout(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "pull", "qwen2.5:0.5b")
    assert result.exit_code == 0, result.output
    row = rows(result.stdout)[0]
    digest = fake_ollama.models["qwen2.5:0.5b"].digest
    assert row[:2] == ["qwen2.5:0.5b", "success"]
    assert row[-1] == digest[:12]
    assert "397.8 MB" in result.stdout


def test_pull_unknown_model_exit_4_with_the_servers_message(
    fake_ollama: FakeOllama, clock: FakeClock
) -> None:
    result = cli(fake_ollama, "pull", "nosuch")
    assert result.exit_code == 4
    assert f"Error: {NOT_EXIST}" in result.stderr
    assert "Hint: check the name at https://ollama.com/library" in result.stderr
    assert set(fake_ollama.models) == INSTALLED
    assert paths(fake_ollama, "/api/pull") == ["/api/pull"]  # not retried
    assert clock.sleeps == []

    (as_json,) = json.loads(cli(fake_ollama, "pull", "nosuch", "-f", "json").stdout)
    assert (as_json["status"], as_json["error"], as_json["exit_code"]) == ("failed", NOT_EXIST, 4)


def test_pull_dropped_mid_download_is_retried_and_resumes(
    fake_ollama: FakeOllama, clock: FakeClock
) -> None:
    entry = fake_ollama.registry["qwen2.5:0.5b"]
    (big, big_total), _ = entry.layers
    # manifest, layer header, 1 MB, 2 MB: then the socket is cut half way through the big layer
    fake_ollama.inject(Fault("/api/pull", "drop", after=4))
    partial_at_pull: list[dict[str, int]] = []

    def snapshot(path: str) -> bool:
        if path == "/api/pull":
            partial_at_pull.append(dict(fake_ollama.partial))
        return False

    fake_ollama.on_request = snapshot
    result = cli(fake_ollama, "pull", "qwen2.5:0.5b", "-f", "json")
    assert result.exit_code == 0, result.output
    (data,) = json.loads(result.stdout)
    assert (data["status"], data["attempts"], data["digest"]) == ("success", 2, entry.model.digest)

    err = result.stderr.splitlines()
    retry = next(line for line in err if "retry 1 of 3" in line)
    assert "lost mid-stream" in retry
    assert "the download resumes where it stopped" in retry
    assert err.index(retry) > err.index(f"qwen2.5:0.5b: pulling {big[:12]}  50%  2.0 MB / 4.0 MB")
    assert err[-1] == "qwen2.5:0.5b: success"
    assert clock.sleeps == [1.0]

    # Two pull requests; the second found half the layer already on the server's disk.
    assert paths(fake_ollama, "/api/pull") == ["/api/pull", "/api/pull"]
    assert partial_at_pull == [{}, {big: big_total // 2}]
    assert "qwen2.5:0.5b" in fake_ollama.models
    assert fake_ollama.partial == {}


def test_pull_gives_up_after_retries_and_keeps_the_partial_download(
    fake_ollama: FakeOllama, clock: FakeClock
) -> None:
    fake_ollama.inject(Fault("/api/pull", "drop", after=3, times=3))
    result = cli(fake_ollama, "pull", "smollm2:135m", "--retries", "2")
    assert result.exit_code == 1
    assert f"Error: connection to {fake_ollama.url} lost mid-stream" in result.stderr
    assert clock.sleeps == [1.0, 2.0]
    assert paths(fake_ollama, "/api/pull") == ["/api/pull"] * 3
    assert "smollm2:135m" not in fake_ollama.models
    big, _ = fake_ollama.registry["smollm2:135m"].layers[0]
    assert fake_ollama.partial[big] > 0  # kept for the next pull

    again = cli(fake_ollama, "pull", "smollm2:135m", "--retries", "0")
    assert again.exit_code == 0, again.output
    assert "smollm2:135m" in fake_ollama.models


def test_pull_several_one_unknown_the_others_are_still_pulled(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "pull", "smollm2:135m", "nosuch", "qwen2.5:0.5b", "-f", "json")
    assert result.exit_code == 4
    lines = json.loads(result.stdout)
    assert [(r["model"], r["status"]) for r in lines] == [
        ("smollm2:135m", "success"), ("nosuch", "failed"), ("qwen2.5:0.5b", "success")
    ]  # fmt: skip
    assert f"Error: nosuch: {NOT_EXIST}" in result.stderr
    assert "Error: 1 of 3 models failed to pull" in result.stderr
    assert set(fake_ollama.models) == {*INSTALLED, "smollm2:135m", "qwen2.5:0.5b"}


def test_pull_several_failures_with_different_codes_exit_1(
    fake_ollama: FakeOllama, clock: FakeClock
) -> None:
    fake_ollama.inject(Fault("/api/pull", "drop", after=3))  # the first model's only attempt
    result = cli(fake_ollama, "pull", "qwen2.5:0.5b", "nosuch", "smollm2:135m", "--retries", "0")
    assert result.exit_code == 1
    table = {r[0]: r[1] for r in rows(result.stdout)}
    assert table == {"qwen2.5:0.5b": "failed", "nosuch": "failed", "smollm2:135m": "success"}
    assert "Error: 2 of 3 models failed to pull" in result.stderr
    assert set(fake_ollama.models) == {*INSTALLED, "smollm2:135m"}
    assert clock.sleeps == []


def test_plain_progress_is_a_few_lines_per_layer_not_a_flood(fake_ollama: FakeOllama) -> None:
    fake_ollama.pull_chunk = 10_000  # 400 progress lines for the 4 MB layer
    result = cli(fake_ollama, "pull", "smollm2:135m")
    assert result.exit_code == 0, result.output
    big, small = (d[:12] for d, _ in fake_ollama.registry["smollm2:135m"].layers)
    err = result.stderr.splitlines()
    assert [line.split()[3] for line in err if f"pulling {big}" in line] == [
        "0%", "25%", "50%", "75%", "100%"
    ]  # fmt: skip
    assert len([line for line in err if f"pulling {small}" in line]) == 2  # 0 % and 100 %
    assert err[0] == "smollm2:135m: pulling manifest"
    assert err[-3:] == [
        "smollm2:135m: verifying sha256 digest", "smollm2:135m: writing manifest",
        "smollm2:135m: success",
    ]  # fmt: skip
    assert len(err) == 11
    assert "\x1b[" not in result.stderr


def test_pull_quiet_prints_only_data(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "pull", "smollm2:135m", "-q", "-f", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)[0]["status"] == "success"


@pytest.mark.parametrize(
    "argv",
    [["pull", "smollm2:135m"], ["list"], ["ps"], ["show", "llama3.2"], ["rm", "llama3.2"],
     ["load", "llama3.2"], ["unload", "llama3.2"], ["sync", "{spec}"]],
    ids=lambda argv: argv[0],
)  # fmt: skip
def test_server_down_exit_3_for_every_command(
    argv: list[str], tmp_path: Path, clock: FakeClock
) -> None:
    spec = tmp_path / "machine.yaml"
    spec.write_text("models: [smollm2:135m]\n")
    host = _dead_host()
    argv = [a.format(spec=spec) for a in argv]
    result = runner.invoke(app, [*argv, "--host", host])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: Cannot reach Ollama at http://{host} — is `ollama serve` running? "
        "Set OLLAMA_HOST or --host."
    ]
    assert "Traceback" not in result.output
    assert clock.sleeps == []  # an unreachable server is not retried


# -- list, ps, show -------------------------------------------------------------------------------


def test_list_table_and_json(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "list")
    assert result.exit_code == 0
    header = result.stdout.strip().splitlines()[0].split()
    assert header == ["NAME", "ID", "SIZE", "PARAMETERS", "QUANTIZATION", "MODIFIED"]
    table = {r[0]: r[1:] for r in rows(result.stdout)}
    vision = fake_ollama.models["llama3.2-vision:11b"]
    assert table["llama3.2:latest"][1:5] == ["2.0", "GB", "3.2B", "Q4_K_M"]
    assert table["qwen3:4b"][1:5] == ["2.5", "GB", "4.0B", "Q4_K_M"]
    assert table["llama3.2-vision:11b"][:5] == [vision.digest[:12], "7.9", "GB", "10.7B", "Q4_K_M"]

    data = json.loads(cli(fake_ollama, "list", "-f", "json").stdout)
    by_name = {m["name"]: m for m in data}
    assert set(by_name) == INSTALLED
    assert by_name["llama3.2-vision:11b"]["size"] == 7_901_829_417
    assert by_name["llama3.2-vision:11b"]["digest"] == vision.digest
    assert by_name["qwen3:4b"]["family"] == "qwen3"


def test_list_empty_server_says_how_to_pull(fake_ollama: FakeOllama) -> None:
    fake_ollama.models.clear()
    result = cli(fake_ollama, "list")
    assert result.exit_code == 0
    assert "No models installed. Try: llmbox pull MODEL" in result.stderr
    assert json.loads(cli(fake_ollama, "list", "-f", "json").stdout) == []


def test_ps_shows_the_cpu_gpu_split_after_loading_the_vision_model(
    fake_ollama: FakeOllama,
) -> None:
    empty = cli(fake_ollama, "ps")
    assert empty.exit_code == 0
    assert "No models loaded. Try: llmbox load MODEL" in empty.stderr

    loaded = cli(fake_ollama, "load", "llama3.2-vision:11b")
    assert loaded.exit_code == 0, loaded.output
    assert loaded.stdout.startswith(
        "loaded    llama3.2-vision:11b  7.9 GB  7%/93% CPU/GPU  ctx 4096  until "
    )
    assert set(fake_ollama.loaded) == {"llama3.2-vision:11b"}

    ps = cli(fake_ollama, "ps")
    assert ps.exit_code == 0
    header = ps.stdout.strip().splitlines()[0].split()
    assert header == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    (row,) = rows(ps.stdout)
    assert row[:8] == ["llama3.2-vision:11b", fake_ollama.models["llama3.2-vision:11b"].digest[:12],
                       "7.9", "GB", "7%/93%", "CPU/GPU", "4096", "4"]  # fmt: skip
    assert ps.stdout.rstrip().endswith("minutes from now")

    (data,) = json.loads(cli(fake_ollama, "ps", "-f", "json").stdout)
    assert data["processor"] == "7%/93% CPU/GPU"
    assert (data["size"], data["size_vram"]) == (7_901_829_417, 7_348_701_358)
    assert data["context_length"] == 4096
    assert data["expires_at"] == fake_ollama.loaded["llama3.2-vision:11b"].expires.isoformat()


def test_show_table_and_json(fake_ollama: FakeOllama) -> None:
    shown = cli(fake_ollama, "show", "qwen3:4b")
    assert shown.exit_code == 0
    for line in ("model             qwen3:4b", "architecture      qwen3",
                 "parameters        4.0B (4,022,468,096)", "context length    40960",
                 "embedding length  2560", "layers            36", "attention heads   32",
                 "KV heads          8", "quantization      Q4_K_M", "format            gguf",
                 "capabilities      completion, tools, thinking"):  # fmt: skip
        assert line in shown.stdout.splitlines()

    facts = json.loads(cli(fake_ollama, "show", "llama3.2", "-f", "json").stdout)
    assert facts["context_length"] == 131072
    assert facts["parameter_count"] == 3_212_749_888
    assert (facts["block_count"], facts["head_count"], facts["head_count_kv"]) == (28, 24, 8)
    assert facts["capabilities"] == ["completion", "tools"]


def test_show_unknown_model_exit_4(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "show", "nosuch")
    assert result.exit_code == 4
    assert "Error: model 'nosuch:latest' not found" in result.stderr
    assert "Hint: llmbox pull nosuch" in result.stderr


# -- rm, load, unload -----------------------------------------------------------------------------


def test_rm_unloads_first_then_deletes_and_an_unknown_one_does_not_stop_the_rest(
    fake_ollama: FakeOllama,
) -> None:
    assert cli(fake_ollama, "load", "llama3.2-vision:11b").exit_code == 0
    fake_ollama.requests.clear()
    result = cli(fake_ollama, "rm", "llama3.2-vision:11b", "nosuch", "qwen3:4b")
    assert result.exit_code == 4
    assert result.stdout.splitlines() == [
        "deleted   llama3.2-vision:11b  (unloaded first)",
        "failed    nosuch: model 'nosuch' not found",
        "deleted   qwen3:4b",
    ]
    assert "Error: nosuch: model 'nosuch' not found" in result.stderr
    assert "Error: 1 of 3 models failed to delete" in result.stderr

    assert set(fake_ollama.models) == {"llama3.2:latest"}
    assert fake_ollama.loaded == {}
    calls = [(r["path"], r["json"].get("model"), r["json"].get("keep_alive"))
             for r in fake_ollama.requests]  # fmt: skip
    assert calls == [
        ("/api/ps", None, None),
        ("/api/generate", "llama3.2-vision:11b", 0),  # unloaded before it is deleted
        ("/api/delete", "llama3.2-vision:11b", None),
        ("/api/delete", "nosuch", None),
        ("/api/delete", "qwen3:4b", None),
    ]


def test_rm_json_and_unknown_alone_exit_4(fake_ollama: FakeOllama) -> None:
    data = json.loads(cli(fake_ollama, "rm", "llama3.2", "-f", "json").stdout)
    assert data == [{"model": "llama3.2", "action": "deleted", "ok": True, "unloaded_first": False}]
    assert "llama3.2:latest" not in fake_ollama.models
    again = cli(fake_ollama, "rm", "llama3.2")
    assert again.exit_code == 4
    assert "Error: model 'llama3.2' not found" in again.stderr


@pytest.mark.parametrize(
    ("flag", "sent", "until"),
    [
        ([], None, "4 minutes from now"),
        (["--keep-alive", "10m"], "10m", "9 minutes from now"),
        (["--keep-alive", "1h30m"], "1h30m", "1 hour from now"),
        (["--keep-alive", "300"], 300, "4 minutes from now"),
        (["--keep-alive", "-1"], -1, "Forever"),
    ],
    ids=["default", "10m", "1h30m", "seconds", "forever"],
)
def test_load_keep_alive_forms(
    fake_ollama: FakeOllama, flag: list[str], sent: Any, until: str
) -> None:
    result = cli(fake_ollama, "load", "qwen3:4b", *flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"loaded    qwen3:4b  2.5 GB  100% GPU  ctx 4096  until {until}"
    (load,) = [r["json"] for r in fake_ollama.requests if r["path"] == "/api/generate"]
    assert load.get("keep_alive") == sent
    assert "prompt" not in load  # an empty request loads without generating
    assert set(fake_ollama.loaded) == {"qwen3:4b"}
    (ps,) = json.loads(cli(fake_ollama, "ps", "-f", "json").stdout)
    assert ps["name"] == "qwen3:4b"


def test_load_bad_keep_alive_exit_2_and_nothing_sent(fake_ollama: FakeOllama) -> None:
    result = cli(fake_ollama, "load", "qwen3:4b", "--keep-alive", "forever")
    assert result.exit_code == 2
    assert "Error: invalid keep_alive 'forever'" in result.stderr
    assert "Hint: e.g. --keep-alive 30m" in result.stderr
    assert fake_ollama.requests == []
    assert fake_ollama.loaded == {}


def test_load_and_unload_unknown_model_exit_4(fake_ollama: FakeOllama) -> None:
    for command, hint in (("load", "llmbox pull nosuch"),
                          ("unload", "llmbox list shows the installed models")):  # fmt: skip
        result = cli(fake_ollama, command, "nosuch")
        assert result.exit_code == 4, command
        assert "Error: model 'nosuch' not found" in result.stderr
        assert f"Hint: {hint}" in result.stderr
    assert fake_ollama.loaded == {}


def test_unload_removes_it_from_ps(fake_ollama: FakeOllama) -> None:
    for model in ("qwen3:4b", "llama3.2"):
        assert cli(fake_ollama, "load", model, "--keep-alive", "-1").exit_code == 0
    result = cli(fake_ollama, "unload", "qwen3:4b", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "model": "qwen3:4b",
        "action": "unloaded",
        "ok": True,
        "was_loaded": True,
    }
    assert set(fake_ollama.loaded) == {"llama3.2:latest"}
    unload = [r["json"] for r in fake_ollama.requests if r["path"] == "/api/generate"][-1]
    assert unload["keep_alive"] == 0
    assert [r[0] for r in rows(cli(fake_ollama, "ps").stdout)] == ["llama3.2:latest"]

    table = cli(fake_ollama, "unload", "llama3.2")
    assert table.stdout == "unloaded  llama3.2\n"
    assert fake_ollama.loaded == {}
    assert "No models loaded" in cli(fake_ollama, "ps").stderr
    assert set(fake_ollama.models) == INSTALLED  # unloaded, not deleted


# -- sync -----------------------------------------------------------------------------------------

SPEC = """\
models:
  - llama3.2              # present
  - qwen3:4b              # present
  - smollm2:135m          # pulled
  - name: qwen2.5:0.5b    # pulled, then preloaded
    keep_alive: 10m
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "machine.yaml"
    path.write_text(SPEC)
    return path


def test_sync_pulls_the_missing_and_a_second_sync_finds_all_present(
    fake_ollama: FakeOllama, spec: Path
) -> None:
    result = cli(fake_ollama, "sync", str(spec))
    assert result.exit_code == 0, result.output
    assert rows(result.stdout) == [
        ["llama3.2", "present", "ok"],
        ["qwen3:4b", "present", "ok"],
        ["smollm2:135m", "pull", "ok"],
        ["qwen2.5:0.5b", "pull", "ok"],
        ["qwen2.5:0.5b", "load", "ok", "(100%", "GPU)"],
    ]
    assert "smollm2:135m: success" in result.stderr
    assert f"In sync: 4 model(s) from {spec}." in result.stderr
    assert set(fake_ollama.models) == {*INSTALLED, "smollm2:135m", "qwen2.5:0.5b"}
    assert set(fake_ollama.loaded) == {"qwen2.5:0.5b"}
    pulled = [r["json"]["model"] for r in fake_ollama.requests if r["path"] == "/api/pull"]
    assert pulled == ["smollm2:135m", "qwen2.5:0.5b"]
    (load,) = [r["json"] for r in fake_ollama.requests if r["path"] == "/api/generate"]
    assert load["keep_alive"] == "10m"

    fake_ollama.requests.clear()
    again = cli(fake_ollama, "sync", str(spec), "-f", "json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["in_sync"] is True
    assert report["present"] == ["llama3.2", "qwen3:4b", "smollm2:135m", "qwen2.5:0.5b"]
    assert (report["pulled"], report["removed"]) == ([], [])
    assert [c["model"] for c in report["loaded"]] == ["qwen2.5:0.5b"]
    assert "/api/pull" not in paths(fake_ollama)  # present models are never downloaded again


def test_sync_dry_run_changes_nothing(fake_ollama: FakeOllama, spec: Path) -> None:
    result = cli(fake_ollama, "sync", str(spec), "--prune", "--dry-run", "-f", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True
    assert plan["in_sync"] is False
    assert plan["present"] == ["llama3.2", "qwen3:4b"]
    assert plan["pull"] == ["smollm2:135m", "qwen2.5:0.5b"]
    assert plan["remove"] == ["llama3.2-vision:11b"]
    assert plan["load"] == [{"model": "qwen2.5:0.5b", "keep_alive": "10m"}]

    table = cli(fake_ollama, "sync", str(spec), "--prune", "--dry-run")
    assert table.exit_code == 0
    assert rows(table.stdout) == [
        ["llama3.2", "present"], ["qwen3:4b", "present"], ["smollm2:135m", "pull"],
        ["qwen2.5:0.5b", "pull"], ["llama3.2-vision:11b", "remove"], ["qwen2.5:0.5b", "load"],
    ]  # fmt: skip

    assert set(paths(fake_ollama)) == {"/api/tags"}  # no pull, delete or load
    assert set(fake_ollama.models) == INSTALLED
    assert fake_ollama.loaded == {}


def test_sync_prune_yes_removes_the_unlisted_without_asking(
    fake_ollama: FakeOllama, spec: Path
) -> None:
    assert cli(fake_ollama, "load", "llama3.2-vision:11b").exit_code == 0
    result = cli(fake_ollama, "sync", str(spec), "--prune", "--yes", "-f", "json")
    assert result.exit_code == 0, result.output
    assert "Remove" not in result.stderr
    report = json.loads(result.stdout)
    assert report["in_sync"] is True
    assert report["removed"] == [{"model": "llama3.2-vision:11b", "action": "deleted",
                                  "ok": True, "unloaded_first": True}]  # fmt: skip
    assert set(fake_ollama.models) == {"llama3.2:latest", "qwen3:4b", "smollm2:135m",
                                       "qwen2.5:0.5b"}  # fmt: skip
    assert set(fake_ollama.loaded) == {"qwen2.5:0.5b"}


def test_sync_prune_declined_changes_nothing(fake_ollama: FakeOllama, spec: Path) -> None:
    result = cli(fake_ollama, "sync", str(spec), "--prune", input="n\n")
    assert result.exit_code == 1
    assert f"Remove 1 model(s) not in {spec}: llama3.2-vision:11b?" in result.stderr
    assert "Error: nothing changed: pruning was not confirmed" in result.stderr
    assert set(fake_ollama.models) == INSTALLED
    assert set(paths(fake_ollama)) == {"/api/tags"}


def test_sync_an_unknown_model_fails_the_sync_but_not_the_others(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text("models:\n  - nosuch\n  - smollm2:135m\n")
    result = cli(fake_ollama, "sync", str(path))
    assert result.exit_code == 4
    assert ["nosuch", "pull", "failed:", *NOT_EXIST.split()] in rows(result.stdout)
    assert ["smollm2:135m", "pull", "ok"] in rows(result.stdout)
    assert "smollm2:135m" in fake_ollama.models
    assert "In sync" not in result.stderr


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("models:\n  - llama3.2\n  - name: smollm2:135m\n    keep_alive: soon\n",
         ":4: field 'models.1.keep_alive'", "invalid keep_alive 'soon'"),
        ("models:\n  - llama3.2\n  - name: smollm2:135m\n    pre_load: true\n",
         ":4: unknown key 'pre_load' in models.1", "(did you mean 'preload'?)"),
        ("modelz:\n  - llama3.2\n", ":1: unknown key 'modelz'", "(did you mean 'models'?)"),
        ("", ": the file is empty", "(expected keys: models)"),
        ("- llama3.2\n", ":1: expected a mapping with keys models", ""),
        ("models:\n  - llama3.2\n  - llama3.2:latest\n",
         ":2: field 'models'", "'llama3.2:latest' is listed twice"),
        ("models:\n  - llama3.2\n  - name: [\n", ":4: invalid YAML", ""),
    ],
    ids=["bad-keep-alive", "unknown-key", "typo-top", "empty", "list", "duplicate", "syntax"],
)  # fmt: skip
def test_sync_malformed_file_exit_2_names_file_line_and_field_and_sends_nothing(
    fake_ollama: FakeOllama, tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(text)
    result = cli(fake_ollama, "sync", str(path))
    assert result.exit_code == 2, result.output
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith(f"Error: {path}{where}")
    assert message in error
    assert "Traceback" not in result.output
    assert fake_ollama.requests == []
    assert set(fake_ollama.models) == INSTALLED


# -- sync --prune never removes after a failed pull (issue 10, item 2) ----------------------------

TYPO = "models:\n  - llama3.2\n  - qwen3:4b\n  - smolm2:135m   # typo: smollm2\n"


@pytest.mark.parametrize(
    ("text", "typo", "kept"),
    [
        (TYPO, "smolm2:135m", {"llama3.2-vision:11b"}),
        ("models:\n  - lama3.2\n", "lama3.2", INSTALLED),
    ],
    ids=["one-typo", "only-a-typo"],
)
def test_sync_prune_yes_after_a_failed_pull_removes_nothing(
    fake_ollama: FakeOllama, tmp_path: Path, text: str, typo: str, kept: set[str]
) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(text)
    result = cli(fake_ollama, "sync", str(path), "--prune", "--yes", "-f", "json")
    assert result.exit_code == 4, result.output  # the pull's own code: not in the registry
    assert set(fake_ollama.models) == INSTALLED  # nothing deleted
    assert "/api/delete" not in paths(fake_ollama)
    report = json.loads(result.stdout)
    assert report["in_sync"] is False
    assert report["removed"] == []
    assert report["missing"] == [typo]
    assert set(report["kept"]) == kept
    assert [p["error"] for p in report["pulled"]] == [NOT_EXIST]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors[0] == f"Error: {typo}: {NOT_EXIST}"
    assert errors[-1].startswith(
        f"Error: 1 listed model(s) missing: {typo}; nothing removed, kept "
    )
    assert f"Hint: check the names in {path}, then run the sync again" in result.stderr


def test_sync_prune_table_marks_the_held_removal(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(TYPO)
    result = cli(fake_ollama, "sync", str(path), "--prune", "--yes")
    assert result.exit_code == 4
    assert ["llama3.2-vision:11b", "remove", "skipped:", "1", "listed", "model(s)", "missing"] in (
        rows(result.stdout)
    )
    assert "In sync" not in result.stderr


def test_sync_prune_plan_and_question_say_removal_waits_for_the_pulls(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(TYPO)
    rule = "Nothing is removed unless all 3 listed model(s) are present after the pulls."
    plan = cli(fake_ollama, "sync", str(path), "--prune", "--dry-run")
    assert plan.exit_code == 0
    assert ["llama3.2-vision:11b", "remove"] in rows(plan.stdout)
    assert rule in plan.stderr
    assert set(paths(fake_ollama)) == {"/api/tags"}

    answered = cli(fake_ollama, "sync", str(path), "--prune", input="y\n")
    assert f"Remove 1 model(s) not in {path}: llama3.2-vision:11b? {rule}" in answered.stderr
    assert answered.exit_code == 4
    assert set(fake_ollama.models) == INSTALLED


def test_sync_prune_without_a_terminal_or_yes_changes_nothing(
    fake_ollama: FakeOllama, spec: Path
) -> None:
    result = cli(fake_ollama, "sync", str(spec), "--prune", input="")
    assert result.exit_code == 1
    assert "Error: nothing changed: pruning was not confirmed" in result.stderr
    assert "Hint: add --yes to prune" in result.stderr
    assert set(paths(fake_ollama)) == {"/api/tags"}
