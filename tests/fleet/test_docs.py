"""docs/fleet.md runs: its inventory, pointed at fake stations, and every `llmbox fleet` command
of the page in order, each ending with an exit code the page promises."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llmbox.cli import app
from tests.fakes.ollama import FakeModel, RegistryModel
from tests.fleet.fleet import fleet

DOC = Path(__file__).resolve().parents[2] / "docs" / "fleet.md"


def test_the_inspection_station_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DOC.read_text(encoding="utf-8")
    inventory = yaml.safe_load(re.search(r"```yaml\n(hosts:.*?)```", text, re.S).group(1))
    commands = [
        shlex.split(line)[1:]
        for block in re.findall(r"```bash\n(.*?)```", text, re.S)
        for line in block.splitlines()
        if line.startswith("llmbox fleet")
    ]
    assert len(commands) >= 8
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(DOC.parents[1] / "configs")
    with fleet() as f:
        for name in inventory["hosts"]:
            server = f.add(name)
            llava = FakeModel("llava:7b", capabilities=("completion", "vision"), image_tokens=16)
            server.registry[llava.name] = RegistryModel(llava)
            inventory["hosts"][name]["url"] = server.url
        f.servers["station-b2"].registry["llava:7b"].model.decode_tps = 100.0
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(inventory))
        runner = CliRunner()
        outputs = {}
        for argv in commands:
            done = runner.invoke(app, argv)
            expected = {0, 5} if "--fail-over" in argv else {0}
            if argv[1] == "status":
                expected = {0, 1}  # before the sync the stations lack the group's model
            assert done.exit_code in expected, (argv, done.output)
            assert "Traceback" not in done.output
            outputs[" ".join(argv)] = done.stdout
    report = next(v for k, v in outputs.items() if "--fail-over" in k)
    assert "station-b2" in report.split("Outliers")[1]  # slow, and its likely causes named
    assert (tmp_path / "results" / "station-a1.json").exists()
