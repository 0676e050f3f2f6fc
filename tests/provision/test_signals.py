"""SIGTERM (a CI job's timeout, `kill`) during pull and sync: one line naming the partial download,
exit 143, and a prune that had not started has removed nothing. Was: killed on the spot, no word.
A real `llmbox` subprocess against the fake server of this process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.hostile import SilentServer
from tests.fakes.ollama import FakeModel, FakeOllama, RegistryModel, full_name

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _fresh(fake: FakeOllama, name: str) -> str:
    """A registry model no other test pulled (the fake's stream of a killed pull goes on a while)."""
    fake.registry[full_name(name)] = RegistryModel(FakeModel(full_name(name)))
    return name


def _stopped_mid_pull(args: list[str], fake: FakeOllama, sig: signal.Signals) -> tuple[int, str]:
    fake.pull_delay_s = 0.2  # 4 chunks a layer: ~1 s a model
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbox", *args, "--host", fake.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = ""
    while "25%" not in seen:  # a layer is part-way down (progress lines, not a TTY)
        line = proc.stderr.readline()
        assert line, proc.communicate()
        seen += line
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=30)
    stderr = seen + rest
    return proc.returncode, stderr


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated by SIGTERM"),
                                                   (signal.SIGINT, 130, "interrupted")])  # fmt: skip
def test_signal_mid_pull_names_the_kept_download(
    fake_ollama: FakeOllama, sig: signal.Signals, code: int, word: str
) -> None:
    model = _fresh(fake_ollama, f"sig{int(sig)}:1b")
    returncode, stderr = _stopped_mid_pull(["pull", model], fake_ollama, sig)
    assert returncode == code, stderr
    assert f"Error: {word} while pulling {model}; the partial download is kept" in stderr
    assert f"Hint: llmbox pull {model} resumes it" in stderr
    assert "Traceback" not in stderr


def test_sigterm_mid_sync_prunes_nothing(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    before = sorted(m.name for m in fake_ollama.models.values())
    machine = tmp_path / "machine.yaml"
    model = _fresh(fake_ollama, "sync-term:1b")
    machine.write_text(f"models:\n  - llama3.2\n  - {model}\n")
    returncode, stderr = _stopped_mid_pull(
        ["sync", str(machine), "--prune", "--yes"], fake_ollama, signal.SIGTERM
    )
    assert returncode == 143, stderr
    assert f"terminated by SIGTERM while pulling {model}" in stderr
    assert sorted(m.name for m in fake_ollama.models.values()) == before  # nothing removed


def test_sigterm_while_waiting_on_a_silent_server(silent_server: SilentServer) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbox", "list", "--host", silent_server.url, "--timeout", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert stderr.strip() == "Error: terminated by SIGTERM"
