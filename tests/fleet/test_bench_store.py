"""`fleet bench` keeps each host's report in the results store, tagged with the host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.store import RunFilter, open_store
from tests.fleet.fleet import Fleet, fleet

QUICK = ["--runs", "2", "--warmup", "0", "--prompt-tokens", "32", "--max-tokens", "8"]


@pytest.fixture
def stations(tmp_path: Path) -> Iterator[tuple[Fleet, Path]]:
    with fleet() as f:
        for i in range(3):
            f.add(f"st-{i}", chip="m2", memory_gb=16)
        f.add_down("st-down", chip="m2")
        f.groups = {"stations": {"hosts": list(f.urls), "models": ["llama3.2"]}}
        yield f, f.write(tmp_path / "fleet.yaml")


def bench(path: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["fleet", "bench", "llama3.2", *QUICK, "-i", str(path), *args])


def test_each_host_is_saved_with_its_host_group_and_run_tags(
    stations: tuple[Fleet, Path], tmp_path: Path
) -> None:
    _, path = stations
    db = f"sqlite:///{tmp_path / 'team.db'}"
    done = bench(path, "--db", db, "--tag", "ci=nightly", "-f", "json")
    assert done.exit_code == 1, done.output  # st-down failed; the others are stored
    data = json.loads(done.stdout)
    run_tag = data["fleet_run"]
    assert f"saved 3 host report(s) in {tmp_path / 'team.db'}" in done.stderr
    assert f"llmbox report --tag fleet_run={run_tag} --db {db} -o fleet.html" in done.stderr
    ids = {h["name"]: h["saved_run"] for h in data["hosts"]}
    assert ids["st-down"] is None
    assert all(ids[f"st-{i}"] for i in range(3))
    with open_store(db, create=False) as store:
        runs = {r.id: r for r in store.runs(RunFilter())}
        assert sorted(runs) == sorted(ids[f"st-{i}"] for i in range(3))
        for i in range(3):
            run = runs[ids[f"st-{i}"]]
            assert run.machine == f"st-{i}"  # the host, not the machine llmbox ran on
            assert run.tags == {"ci": "nightly", "fleet_host": f"st-{i}",
                                "fleet_group": "stations", "fleet_run": run_tag}  # fmt: skip
            assert store.load(run.id).machine["chip"] == "m2-8c"  # resolved in the catalog


def test_no_save_stores_nothing(stations: tuple[Fleet, Path], tmp_path: Path) -> None:
    _, path = stations
    db = tmp_path / "team.db"
    done = bench(path, "-s", "st-0", "--db", f"sqlite:///{db}", "--no-save")
    assert done.exit_code == 0, done.output
    assert "saved" not in done.stderr
    assert not db.exists()


def test_a_bad_store_fails_before_any_host_runs(stations: tuple[Fleet, Path]) -> None:
    f, path = stations
    done = bench(path, "-s", "st-0", "--db", "mysql://nowhere/db")
    assert done.exit_code == 2, done.output
    assert "Error:" in done.stderr
    assert "Traceback" not in done.output
    assert not f.servers["st-0"].loaded  # no model was loaded: nothing ran


def test_a_bad_tag_fails_before_any_host_runs(stations: tuple[Fleet, Path]) -> None:
    _, path = stations
    done = bench(path, "-s", "st-0", "--tag", "nonsense")
    assert done.exit_code == 2
    assert "--tag 'nonsense': expected KEY=VALUE" in done.stderr


def test_the_report_shows_the_fleet_and_each_hosts_trend_from_the_store(
    stations: tuple[Fleet, Path], tmp_path: Path
) -> None:
    f, path = stations
    db = f"sqlite:///{tmp_path / 'team.db'}"
    for _ in range(2):  # back to back: stamped to the microsecond, they are two points each
        assert bench(path, "-s", "st-[0-2]", "--db", db).exit_code == 0
    f.servers["st-2"].models["llama3.2:latest"].decode_tps = 100.0  # the third run: st-2 slow
    done = bench(path, "-s", "st-[0-2]", "--db", db)
    assert done.exit_code == 0, done.output
    page = tmp_path / "fleet.html"
    shown = CliRunner().invoke(app, ["report", "--db", db, "--tag", "fleet_group=stations",
                                     "-o", str(page)])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    html = page.read_text()
    fleet = html[html.index('id="section-fleet"') :]
    fleet = fleet[: fleet.index("</section>")]
    assert fleet.count("<tr><th>st-") == 3
    assert fleet.count('class="outlier"') == 1  # st-2's only cell
    assert "nothing in ps or the machine facts explains it" in fleet
    assert 'id="chart-fleet-trend"' in html
