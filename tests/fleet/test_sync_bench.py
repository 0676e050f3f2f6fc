"""`fleet sync` and `fleet bench` end to end against a handful of fake servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.bench.plan import BenchOptions
from llmbox.bench.session import GateOptions
from llmbox.cli import app
from llmbox.fleet import find_outliers, fleet_bench, load_inventory
from llmbox.fleet._bench import HostBench
from tests.fakes.ollama import FakeModel
from tests.fleet.fleet import Fleet, fleet

MODELS = ["llama3.2", "smollm2:135m"]
QUICK = ["--runs", "2", "--warmup", "0", "--prompt-tokens", "32", "--max-tokens", "8"]


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Fleet, Path]]:
    with fleet() as f:
        for i in range(4):
            f.add(f"st-{i}", labels={"line": "a"}, chip="m2", memory_gb=16, power="ac")
        f.add_down("st-down", chip="m2")
        f.groups = {"stations": {"hosts": list(f.urls), "models": MODELS}}
        yield f, f.write(tmp_path / "fleet.yaml")


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["fleet", *args])


def test_sync_dry_run_changes_nothing_and_lists_each_plan(small: tuple[Fleet, Path]) -> None:
    f, path = small
    done = invoke("sync", "-i", str(path), "--dry-run", "-f", "json")
    assert done.exit_code == 1  # st-down cannot be planned
    data = json.loads(done.stdout)
    plans = {h["name"]: h for h in data["hosts"]}
    assert plans["st-0"]["plan"]["pull"] == ["smollm2:135m"]
    assert data["dry_run"]
    assert plans["st-down"]["state"] == "unreachable"
    assert data["failed"] == ["st-down"]
    assert f.servers["st-0"].find("smollm2:135m") is None


def test_sync_partial_failure_lists_the_host_and_prunes_only_healthy_hosts(
    small: tuple[Fleet, Path],
) -> None:
    f, path = small
    for server in f.servers.values():
        server.add(FakeModel("old:7b"))
    del f.servers["st-2"].registry["smollm2:135m"]  # its pull fails: not in its registry
    done = invoke("sync", "-i", str(path), "-s", "st-[0-3]", "--prune", "--yes", "-f", "json")
    assert done.exit_code == 1, done.output
    data = json.loads(done.stdout)
    assert data["failed"] == ["st-2"]
    assert f.servers["st-0"].find("old:7b") is None
    assert f.servers["st-0"].find("smollm2:135m")
    assert f.servers["st-2"].find("old:7b") is not None  # its pull failed: its prune did not run
    assert "failed: st-2" in done.stderr


def test_sync_stop_on_failure_starts_no_more_hosts(small: tuple[Fleet, Path]) -> None:
    f, path = small
    del f.servers["st-0"].registry["smollm2:135m"]
    done = invoke(
        "sync", "-i", str(path), "-s", "line=a", "--max-parallel", "1", "--stop-on-failure"
    )
    assert done.exit_code == 1
    assert f.servers["st-1"].find("smollm2:135m") is None  # never started
    assert "not started" in done.stdout


def test_sync_none_reachable_exits_3(small: tuple[Fleet, Path]) -> None:
    _, path = small
    assert invoke("sync", "-i", str(path), "-s", "st-down").exit_code == 3


def test_prune_needs_yes_without_a_terminal(small: tuple[Fleet, Path]) -> None:
    f, path = small
    f.servers["st-0"].add(FakeModel("old:7b"))
    done = invoke("sync", "-i", str(path), "-s", "st-0", "--prune")
    assert done.exit_code == 2
    assert "--yes" in done.stderr
    assert f.servers["st-0"].find("old:7b") is not None


def test_bench_gates_per_host_outliers_and_reports(
    small: tuple[Fleet, Path], tmp_path: Path
) -> None:
    f, path = small
    f.servers["st-3"].models["llama3.2:latest"].decode_tps = 100.0
    out = tmp_path / "results"
    done = invoke(
        "bench", "llama3.2", *QUICK, "-i", str(path), "--fail-under", "decode_tps=300",
        "--out-dir", str(out),
    )  # fmt: skip
    assert done.exit_code == 5, done.output
    assert "Gates failed on: st-3" in done.stdout
    assert "st-3  llama3.2 pp32 tg8: decode_tps 100 t/s vs 500 t/s" in done.stdout
    assert "Failed: st-down" in done.stdout
    saved = json.loads((out / "st-3.json").read_text())
    assert saved["machine"]["fleet_host"] == "st-3"
    assert saved["server"]["host"].endswith(f.urls["st-3"].rsplit(":", 1)[1])
    assert sorted(p.name for p in out.iterdir()) == [f"st-{i}.json" for i in range(4)]


def test_outlier_causes_from_ps_and_facts(small: tuple[Fleet, Path]) -> None:
    f, path = small
    inv = load_inventory(path)
    f.servers["st-1"].models["llama3.2:latest"].decode_tps = 100.0
    f.servers["st-1"].models["llama3.2:latest"].size_vram = 1_000_000_000  # half on the CPU
    f.servers["st-2"].models["llama3.2:latest"].decode_tps = 120.0
    f.servers["st-2"]._load(f.servers["st-2"].models["qwen3:4b"], -1, None)  # another model
    hosts = [h for h in inv.hosts if h.name != "st-down"]
    opts = BenchOptions(models=["llama3.2"], runs=2, warmup=0, prompt_tokens="32", max_tokens="8")
    result = fleet_bench(hosts, opts, GateOptions())
    assert result.exit_code == 0
    causes = {o.host: o.causes for o in result.outliers}
    assert set(causes) == {"st-1", "st-2"}
    assert causes["st-1"][0].startswith("CPU spill")
    assert causes["st-2"] == ("other models loaded: qwen3:4b",)


def test_outliers_need_peers_with_the_same_chip(small: tuple[Fleet, Path]) -> None:
    _, path = small
    inv = load_inventory(path)
    hosts = [HostBench(h) for h in inv.hosts]
    assert find_outliers(hosts) == []  # no reports: nothing to compare
