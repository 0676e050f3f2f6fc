"""The provisioning commands through the CLI, with the client wired to the scripted transport.

Exit codes, stdout data vs stderr progress, JSON shapes, both progress renderings, Ctrl-C.
End-to-end runs against the fake Ollama server are in ``test_e2e.py``.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.provision._mock import CtrlC, Drop, FakeClock, MockOllama, pull_lines

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> MockOllama:
    server = MockOllama()
    monkeypatch.setattr("llmbox.client.OllamaClient", lambda **kw: server.client())
    return server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("llmbox.provision._pull.backoff_sleep", fake.sleep)
    return fake


def _dead_host() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_pull_plain_progress_on_stderr_and_a_summary_table_on_stdout(
    mock: MockOllama, clock: FakeClock
) -> None:
    mock.pull_scripts["llama3.2:latest"] = [pull_lines(steps=100)]
    result = runner.invoke(app, ["pull", "llama3.2"])
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert err[0] == "llama3.2: pulling manifest"
    assert len([line for line in err if "aaaaaaaaaaaa" in line]) == 5  # 0/25/50/75/100 %, not 100
    assert err[-1] == "llama3.2: success"
    assert "llama3.2" in result.stdout
    assert "success" in result.stdout
    assert "a80c4f17acd5" in result.stdout
    assert "2.0 GB" in result.stdout


def test_pull_tty_draws_bars(
    mock: MockOllama, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmbox.report.output.is_tty", lambda stream: True)
    mock.pull_scripts["llama3.2:latest"] = [pull_lines()]
    result = runner.invoke(app, ["pull", "llama3.2"])
    assert result.exit_code == 0, result.output
    assert "\x1b[" in result.stderr  # a live display, not plain lines
    err = ANSI.sub("", result.stderr)
    assert "pulling aaaaaaaaaaaa" in err
    assert "2.0/2.0 MB" in err
    assert "llama3.2: writing manifest" in err


def test_pull_quiet_prints_only_data(mock: MockOllama, clock: FakeClock) -> None:
    mock.pull_scripts["m:latest"] = [pull_lines()]
    result = runner.invoke(app, ["pull", "m", "-q", "-f", "json"])
    assert result.exit_code == 0
    assert result.stderr == ""
    (data,) = json.loads(result.stdout)  # an array, even for one model
    assert data["model"] == "m"
    assert data["status"] == "success"
    assert data["size"] == 2_019_393_189
    assert set(data) == {"model", "ok", "status", "digest", "size", "seconds", "attempts"}


def test_pull_unknown_model_exit_4_with_the_servers_message(
    mock: MockOllama, clock: FakeClock
) -> None:
    result = runner.invoke(app, ["pull", "nosuch"])
    assert result.exit_code == 4
    assert "Error: pull model manifest: file does not exist" in result.stderr
    assert "Hint: check the name at https://ollama.com/library" in result.stderr
    assert clock.sleeps == []


def test_pull_dropped_connection_is_retried_and_resumes(mock: MockOllama, clock: FakeClock) -> None:
    lines = pull_lines()
    mock.pull_scripts["m:latest"] = [[*lines[:4], Drop()], [lines[0], *lines[4:]]]
    result = runner.invoke(app, ["pull", "m", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "lost mid-stream" in result.stderr
    assert "retry 1 of 3 in 1s" in result.stderr
    assert json.loads(result.stdout)[0]["attempts"] == 2
    assert clock.sleeps == [1.0]


def test_pull_gives_up_after_retries(mock: MockOllama, clock: FakeClock) -> None:
    mock.pull_scripts["m:latest"] = [[{"status": "pulling manifest"}, Drop()]]
    result = runner.invoke(app, ["pull", "m", "--retries", "2"])
    assert result.exit_code == 1
    assert clock.sleeps == [1.0, 2.0]
    assert "Error: connection to http://mock:11434 lost mid-stream" in result.stderr


def test_pull_several_goes_on_and_exits_non_zero_with_a_summary(
    mock: MockOllama, clock: FakeClock
) -> None:
    mock.pull_scripts["a:latest"] = [pull_lines()]
    mock.pull_scripts["c:latest"] = [pull_lines()]
    result = runner.invoke(app, ["pull", "a", "nosuch", "c", "-f", "json"])
    assert result.exit_code == 4
    rows = json.loads(result.stdout)
    assert [(r["model"], r["status"]) for r in rows] == [
        ("a", "success"), ("nosuch", "failed"), ("c", "success")
    ]  # fmt: skip
    assert "Error: nosuch: pull model manifest: file does not exist" in result.stderr
    assert "Error: 1 of 3 models failed to pull" in result.stderr
    assert set(mock.installed) == {"a:latest", "c:latest"}


def test_ctrl_c_exits_130_and_says_the_partial_download_is_kept(
    mock: MockOllama, clock: FakeClock
) -> None:
    mock.pull_scripts["m:latest"] = [[*pull_lines()[:3], CtrlC()]]
    result = runner.invoke(app, ["pull", "m"])
    assert result.exit_code == 130
    assert "Error: interrupted while pulling m; the partial download is kept" in result.stderr
    assert "Hint: llmbox pull m resumes it" in result.stderr


def test_server_down_exit_3_for_every_command(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text("models: [a]\n")
    host = _dead_host()
    for argv in (["pull", "a"], ["list"], ["ps"], ["show", "a"], ["rm", "a"], ["load", "a"],
                 ["unload", "a"], ["sync", str(spec)]):  # fmt: skip
        result = runner.invoke(app, [*argv, "--host", host])
        assert result.exit_code == 3, (argv, result.output)
        assert f"Cannot reach Ollama at http://{host}" in result.stderr
        assert "Traceback" not in result.output


def test_list_ps_show_tables_and_json(mock: MockOllama) -> None:
    mock.add("llama3.2:latest")
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0
    header, row = listed.stdout.strip().splitlines()[0], listed.stdout.strip().splitlines()[-1]
    assert header.split() == ["NAME", "ID", "SIZE", "PARAMETERS", "QUANTIZATION", "MODIFIED"]
    assert row.split()[:6] == ["llama3.2:latest", "a80c4f17acd5", "2.0", "GB", "3.2B", "Q4_K_M"]
    assert row.endswith("ago")
    assert json.loads(runner.invoke(app, ["list", "-f", "json"]).stdout)[0]["size"] == 2_019_393_189

    empty_ps = runner.invoke(app, ["ps"])
    assert empty_ps.exit_code == 0
    assert "No models loaded" in empty_ps.stderr
    assert runner.invoke(app, ["load", "llama3.2", "--keep-alive", "-1"]).exit_code == 0
    ps = runner.invoke(app, ["ps"])
    assert ps.stdout.strip().splitlines()[0].split() == [
        "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"
    ]  # fmt: skip
    assert "7%/93% CPU/GPU" in ps.stdout
    assert "Forever" in ps.stdout
    assert json.loads(runner.invoke(app, ["ps", "-f", "json"]).stdout)[0]["context_length"] == 4096

    shown = runner.invoke(app, ["show", "llama3.2"])
    assert shown.exit_code == 0
    for line in ("architecture      llama", "parameters        3.2B (3,212,749,888)",
                 "context length    131072", "layers            28", "KV heads          8",
                 "quantization      Q4_K_M", "capabilities      completion, tools"):  # fmt: skip
        assert line in shown.stdout
    facts = json.loads(runner.invoke(app, ["show", "llama3.2", "-f", "json"]).stdout)
    assert facts["head_count_kv"] == 8


def test_show_unknown_model_exit_4(mock: MockOllama) -> None:
    result = runner.invoke(app, ["show", "nosuch"])
    assert result.exit_code == 4
    assert "Error: model 'nosuch:latest' not found" in result.stderr
    assert "Hint: llmbox pull nosuch" in result.stderr


def test_rm_load_unload(mock: MockOllama) -> None:
    mock.add("a:latest")
    mock.add("b:latest")
    loaded = runner.invoke(app, ["load", "a", "--keep-alive", "10m"])
    assert loaded.exit_code == 0
    assert loaded.stdout.startswith("loaded    a  3.0 GB  7%/93% CPU/GPU  ctx 4096  until ")
    assert mock.requests[-2][2]["keep_alive"] == "10m"
    bad = runner.invoke(app, ["load", "a", "--keep-alive", "forever"])
    assert bad.exit_code == 2
    assert "invalid keep_alive 'forever'" in bad.stderr

    unloaded = runner.invoke(app, ["unload", "a", "-f", "json"])
    assert json.loads(unloaded.stdout) == {
        "model": "a",
        "action": "unloaded",
        "ok": True,
        "was_loaded": True,
    }
    runner.invoke(app, ["load", "a"])
    removed = runner.invoke(app, ["rm", "a", "b"])
    assert removed.exit_code == 0
    assert removed.stdout == "deleted   a  (unloaded first)\ndeleted   b\n"
    again = runner.invoke(app, ["rm", "a"])
    assert again.exit_code == 4
    assert "Error: model 'a' not found" in again.stderr


def test_sync_dry_run_changes_nothing(mock: MockOllama, tmp_path: Path) -> None:
    mock.add("a:latest")
    mock.add("extra:latest")
    spec = tmp_path / "machine.yaml"
    spec.write_text("models:\n  - a\n  - name: b\n    preload: true\n")
    result = runner.invoke(app, ["sync", str(spec), "--prune", "--dry-run", "-f", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert (plan["present"], plan["pull"], plan["remove"]) == (["a"], ["b"], ["extra:latest"])
    assert plan["dry_run"] is True
    assert not [r for r in mock.requests if r[1] in ("/api/pull", "/api/delete", "/api/generate")]
    table = runner.invoke(app, ["sync", str(spec), "--prune", "--dry-run"])
    assert [line.split() for line in table.stdout.strip().splitlines()[2:]] == [
        ["a", "present"], ["b", "pull"], ["extra:latest", "remove"], ["b", "load"]
    ]  # fmt: skip


def test_sync_pulls_prunes_after_asking_and_preloads(
    mock: MockOllama, clock: FakeClock, tmp_path: Path
) -> None:
    mock.add("a:latest")
    mock.add("extra:latest")
    mock.pull_scripts["b:latest"] = [pull_lines()]
    spec = tmp_path / "machine.yaml"
    spec.write_text("models:\n  - a\n  - name: b\n    keep_alive: 5m\n")
    declined = runner.invoke(app, ["sync", str(spec), "--prune"], input="n\n")
    assert declined.exit_code == 1
    assert "Remove 1 model(s) not in" in declined.stderr
    assert "Error: nothing changed: pruning was not confirmed" in declined.stderr
    assert set(mock.installed) == {"a:latest", "extra:latest"}

    result = runner.invoke(app, ["sync", str(spec), "--prune"], input="y\n")
    assert result.exit_code == 0, result.output
    assert set(mock.installed) == {"a:latest", "b:latest"}
    assert set(mock.loaded) == {"b:latest"}
    table = result.stdout[result.stdout.index("MODEL") :]  # CliRunner echoes the "y" answer
    rows = [line.split()[:3] for line in table.strip().splitlines()[2:]]
    assert rows == [["a", "present", "ok"], ["b", "pull", "ok"], ["extra:latest", "remove", "ok"],
                    ["b", "load", "ok"]]  # fmt: skip
    assert "In sync: 2 model(s)" in result.stderr

    again = runner.invoke(app, ["sync", str(spec), "--prune", "-f", "json"])
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["in_sync"] is True
    assert report["pulled"] == []
    assert report["removed"] == []


def test_sync_failure_exit_code_and_yes_skips_the_question(
    mock: MockOllama, clock: FakeClock, tmp_path: Path
) -> None:
    mock.add("extra:latest")
    spec = tmp_path / "machine.yaml"
    spec.write_text("models:\n  - nosuch\n")
    result = runner.invoke(app, ["sync", str(spec), "--prune", "--yes"])
    assert result.exit_code == 4
    assert "Remove" not in result.stderr
    assert set(mock.installed) == {"extra:latest"}  # a failed pull holds the prune back
    assert "failed: pull model manifest: file does not exist" in result.stdout
    assert "Error: 1 listed model(s) missing: nosuch; nothing removed, kept extra:latest" in (
        result.stderr
    )


def test_sync_malformed_file_exit_2_before_touching_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmbox.client.OllamaClient", lambda **kw: pytest.fail("server contacted"))
    spec = tmp_path / "machine.yaml"
    spec.write_text("models:\n  - a\n  - name: b\n    keep_alive: soon\n")
    result = runner.invoke(app, ["sync", str(spec)])
    assert result.exit_code == 2
    assert f"Error: {spec}:4: field 'models.1.keep_alive'" in result.stderr
    assert "invalid keep_alive 'soon'" in result.stderr
