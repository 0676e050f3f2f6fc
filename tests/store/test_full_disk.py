"""A store on a full disk says so (not "disk I/O error … rerun with --debug"), for writing and for
reading (SQLite's WAL index is a file on that disk too), and a bench whose store cannot be opened
says it can run without saving. Needs a small filesystem of its own: a tmpfs in a private mount
namespace (``unshare -m`` as root); skipped elsewhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.reports import report

_SIZE = "600k"


def _tmpfs_works(directory: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size={_SIZE} tmpfs {directory}"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _on_a_disk_that_fills(disk: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run the shell ``script`` where ``disk`` is a fresh 600 kB filesystem; ``$LLMBOX`` runs
    llmbox, ``fill`` fills the disk."""
    disk.mkdir()
    if not _tmpfs_works(disk):
        pytest.skip("cannot mount a small filesystem here (needs unshare -m as root)")
    prelude = (
        f"mount -t tmpfs -o size={_SIZE} tmpfs {disk} && "
        f"LLMBOX='{sys.executable} -m llmbox' && "
        f"fill() {{ dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null; true; }}\n"
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_store_on_a_full_disk_says_the_disk_is_full(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps(report()), encoding="utf-8")
    disk = tmp_path / "disk"
    db = disk / "h.db"
    done = _on_a_disk_that_fills(
        disk,
        f"$LLMBOX history import {run} --db {db} -q || exit 99\n"
        "fill\n"
        f'$LLMBOX history --db {db}; echo "history: $?" >&2\n'
        f'$LLMBOX history import {run} --tag again=1 --db {db}; echo "import: $?" >&2\n'
        f'$LLMBOX bench llama3.2 --host 127.0.0.1:9 --db {db}; echo "bench: $?" >&2\n',
    )
    err = done.stderr
    assert "Traceback" not in err
    for command in ("history", "import", "bench"):
        assert f"{command}: 6" in err, err
    assert err.count("its disk is full") == 3, err
    assert f"free some space (df -h {disk})" in err
    assert "rerun with --debug" not in err
    assert "or bench with --no-save" in err  # the bench needs no store to run
