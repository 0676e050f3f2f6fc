"""docs/reports.md is executed: each command of its example block runs on two saved runs and
writes what the text says it writes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.browser.reports import bench_report, shared_vega_cache

DOC = Path(__file__).parents[2] / "docs" / "reports.md"
BLOCK = re.search(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
COMMANDS = [line for line in (BLOCK.group(1) if BLOCK else "").splitlines() if line.strip()]


def test_the_doc_has_examples() -> None:
    assert len(COMMANDS) >= 4
    assert all(c.startswith("llmbox report ") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_runs(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_vega_cache(tmp_path_factory.getbasetemp())))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for i, name in enumerate(("a.json", "b.json", "runs/1.json")):
        Path(name).write_text(json.dumps(bench_report(day=i)))
    argv = shlex.split(command)[1:]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    if "-o" in argv:
        assert Path(argv[argv.index("-o") + 1]).stat().st_size > 0
    for flag, ext in (("--png", "png"), ("--svg", "svg")):
        if flag in argv:
            assert list(Path(argv[argv.index(flag) + 1]).glob(f"*.{ext}"))
