"""SIGTERM (a CI runner's timeout) and Ctrl-C during `fleet bench`: every host's session runs in a
thread of its own, yet each host's partial report is written, stored and marked interrupted.
A real `llmbox fleet bench` subprocess against a few fake servers of this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmbox.store import RunFilter, open_store
from tests.fakes.ollama import FakeModel
from tests.fleet.fleet import fleet

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

HOSTS = ("st-0", "st-1", "st-2")


def _cases(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["results"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_every_hosts_partial_report(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out, db = tmp_path / "hosts", tmp_path / "team.db"
    with fleet() as f:
        for name in HOSTS:
            f.add(name, chip="m2").add(FakeModel("slow:1b", decode_tps=100.0))  # 0.2 s a request
        inventory = f.write(tmp_path / "fleet.yaml")
        argv = [sys.executable, "-m", "llmbox", "fleet", "bench", "slow:1b", "-i", str(inventory),
                "--runs", "2", "--warmup", "0", "--prompt", "hi",
                "--max-tokens", "20,21,22,23,24,25,26,27", "--out-dir", str(out),
                "--db", f"sqlite:///{db}", "-q"]  # fmt: skip
        env = {**os.environ, "NO_COLOR": "1"}
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while not all(_cases(out / f"{h}.json") >= 1 for h in HOSTS):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the hosts did not get going"
            time.sleep(0.02)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "interrupted" in stdout.decode()  # each host's state in the table
    with open_store(f"sqlite:///{db}", create=False) as store:
        runs = store.runs(RunFilter())
        assert sorted(r.tags["fleet_host"] for r in runs) == list(HOSTS)
        assert all(r.interrupted for r in runs)
    for host in HOSTS:
        report = json.loads((out / f"{host}.json").read_text())
        assert report["interrupted"], host
        assert 1 <= len(report["results"]) < 8
        assert all(len(r["runs"]) == 2 for r in report["results"])
