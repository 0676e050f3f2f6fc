"""A reader that has gone (``llmbox list | head -1``, ``llmbox sync f 2>&1 | head -5``) costs only
the lines it would have read: no 'unexpected BrokenPipeError', the work goes on, the exit code is
the command's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.ollama import FakeOllama


def _run_into_closed_pipe(args: list[str], *, stderr_too: bool) -> tuple[int, bytes]:
    """Run ``llmbox ARGS`` with stdout (and stderr) a pipe whose reader has already closed it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "llmbox", *args],
            check=False,
            stdout=write_end,
            stderr=write_end if stderr_too else subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr or b""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["hw-estimate", "--chip", "m4pro", "--model", "llama3.2:3b"], 0),
        (["chips", "-f", "json"], 0),
        (["hw-estimate", "--chip", "m4prox", "--model", "llama3.2:3b"], 2),
    ],
)
def test_closed_stdout_is_quiet_and_keeps_the_exit_code(args: list[str], code: int) -> None:
    returncode, stderr = _run_into_closed_pipe(args, stderr_too=False)
    assert returncode == code, stderr
    assert b"BrokenPipe" not in stderr
    assert b"unexpected" not in stderr


def test_closed_stdout_after_a_failed_sync_keeps_its_exit_code(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    machine = tmp_path / "machine.yaml"
    machine.write_text("models:\n  - llama3.2\n  - lama3.2-vision:11b\n")
    returncode, stderr = _run_into_closed_pipe(
        ["sync", str(machine), "--host", fake_ollama.url], stderr_too=False
    )
    assert returncode == 4, stderr
    assert b"BrokenPipe" not in stderr
    assert b"1 listed model(s) missing: lama3.2-vision:11b" in stderr


def test_closed_stderr_does_not_stop_a_pull(fake_ollama: FakeOllama) -> None:
    """Progress lines into a closed pipe: the download still completes and the exit code is 0."""
    returncode, _ = _run_into_closed_pipe(
        ["pull", "smollm2:135m", "--host", fake_ollama.url], stderr_too=True
    )
    assert returncode == 0
    assert fake_ollama.find("smollm2:135m") is not None


def test_closed_stderr_keeps_the_error_exit_code() -> None:
    returncode, _ = _run_into_closed_pipe(
        ["list", "--host", "http://127.0.0.1:1", "--timeout", "2"], stderr_too=True
    )
    assert returncode == 3
