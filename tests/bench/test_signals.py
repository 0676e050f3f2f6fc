"""What CI runners do to a benchmark: SIGTERM on a timeout, SIGKILL after it, Ctrl-C by hand.
Each on a real `llmbox bench` subprocess writing `-o json:FILE` against the fake Ollama."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmbox.results import BenchReport
from tests.fakes.ollama import FakeModel, FakeOllama

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(fake: FakeOllama, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    fake.add(FakeModel("slow:1b", decode_tps=100.0))  # 20 tokens: 0.2 s a request
    argv = [sys.executable, "-m", "llmbox", "bench", "slow:1b", "--host", fake.url, "--runs", "2",
            "--warmup", "0", "--prompt", "hi", "--max-tokens", "20,21,22,23,24,25,26,27",
            "-o", f"json:{out}", *extra]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_for_cases(out: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(json.loads(out.read_text())["results"]) >= n:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError("the benchmark did not get going")


def _saved(out: Path) -> BenchReport:
    return BenchReport.parse(json.loads(out.read_text()), str(out))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_term_and_ctrl_c_save_every_finished_case(
    fake_ollama: FakeOllama, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "bench.json"
    proc = _start(fake_ollama, out, "-q")
    _wait_for_cases(out, 2, proc)
    finished_before = len(_saved(out).results)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err.decode()
    text = err.decode()
    assert "Traceback" not in text
    assert f"results so far written to {out}" in text
    report = _saved(out)
    assert report.interrupted
    # every case that finished is there, including any that finished after the signal was sent
    assert len(report.results) >= finished_before
    assert len(report.results) < 8
    assert all(len(r.runs) == 2 for r in report.results)


def test_kill_leaves_every_case_finished_before_it(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _start(fake_ollama, out)
    assert proc.stderr is not None
    reported = 0
    while reported < 3:  # progress reports a case once it is finished (and saved)
        line = proc.stderr.readline().decode()
        assert line, proc.communicate()
        reported += "decode" in line and "tok/s" in line
    proc.kill()
    proc.communicate(timeout=30)
    report = _saved(out)
    assert len(report.results) >= 3  # a file that lagged a case behind would hold 2
    assert report.finished_at is None  # cut off: nothing claims the run completed
    assert not report.interrupted
    left = sorted(f.name for f in tmp_path.iterdir() if f.is_file())
    assert left == ["bench.json"]  # no temp file left behind
