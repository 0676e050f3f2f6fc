"""A fleet's unreachable hosts say why, in the inventory's words: `fleet sync` named every one
'nothing answers' (a web page, a hung host, a name that does not resolve alike), and `status`
advised `--host` / `OLLAMA_HOST`, which an inventory does not read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.fleet.fleet import fleet

runner = CliRunner()
CAUSES = {
    "web": "answered with an HTML page",
    "hung": "within 2 s",
    "down": "nothing answers at",
    "typo": "cannot resolve host 'nosuchhost.invalid'",
}


def _status_and_sync(tmp_path: Path) -> tuple[Any, Any]:
    path = tmp_path / "fleet.yaml"
    with fleet() as f:
        f.add("ok")
        f.add_html("web")
        f.add_silent("hung")
        f.add_down("down")
        f.urls["typo"] = "http://nosuchhost.invalid:11434"
        f.facts["typo"] = {}
        f.groups = {"all": {"hosts": list(f.urls), "models": ["llama3.2"]}}
        f.write(path)
        argv = ["-i", str(path), "--timeout", "2"]
        status = runner.invoke(app, ["fleet", "status", *argv])
        sync = runner.invoke(app, ["fleet", "sync", *argv, "--dry-run", "-f", "json"])
    return status, sync


def test_status_and_sync_name_each_cause_without_single_host_advice(tmp_path: Path) -> None:
    status, sync = _status_and_sync(tmp_path)
    assert status.exit_code == 1, status.output
    lines = status.stdout.splitlines()
    for host, cause in CAUSES.items():
        said = [line for line in lines if line.startswith(f"{host}: ")]
        assert said, (host, status.stdout)
        assert cause in said[0]
    assert "OLLAMA_HOST" not in status.stdout
    assert "--host" not in status.stdout
    notes = json.dumps(json.loads(sync.stdout))
    for cause in CAUSES.values():
        assert cause in notes, (cause, notes)


@pytest.mark.parametrize("value", ["nan", "inf", "0.01"])
def test_status_timeout_that_cannot_bound_a_wait_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "fleet.yaml"
    with fleet() as f:
        f.add("ok")
        f.write(path)
        result = runner.invoke(app, ["fleet", "status", "-i", str(path), "--timeout", value])
    assert result.exit_code == 2, result.output
    assert f"--timeout must be at least 0.1 seconds (and finite), not {value}" in result.output
