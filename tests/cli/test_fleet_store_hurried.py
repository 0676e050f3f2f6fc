"""`fleet bench` and the results store, the way a hurried user meets them: a bad --tag with
--no-save, a store another process holds, and an interrupted fleet told where its results are."""

from __future__ import annotations

import re
import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner, Result

from llmbox.cli import app
from llmbox.cli.fleet import _kept_where
from llmbox.store import RunFilter, open_store
from tests.fleet.fleet import fleet

QUICK = ["--runs", "2", "--warmup", "0", "--prompt-tokens", "32", "--max-tokens", "8"]
HOSTS = ("st-0", "st-1")
runner = CliRunner()


@pytest.fixture
def inventory(tmp_path: Path) -> Iterator[Path]:
    with fleet() as f:
        for name in HOSTS:
            f.add(name, chip="m2", memory_gb=16)
        yield f.write(tmp_path / "fleet.yaml")


def _bench(inventory: Path, *args: str) -> Result:
    return runner.invoke(app, ["fleet", "bench", "llama3.2", *QUICK, "-i", str(inventory), *args])


def test_a_bad_tag_with_no_save_is_a_usage_error_as_in_bench(inventory: Path) -> None:
    done = _bench(inventory, "--no-save", "--tag", "nonsense")
    assert done.exit_code == 2, done.output
    assert "--tag 'nonsense': expected KEY=VALUE" in done.stderr


def test_a_locked_store_keeps_each_hosts_report_in_a_file_and_names_the_import(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.store import _engine

    db = tmp_path / "team.db"
    open_store(f"sqlite:///{db}").close()
    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.chdir(tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = _bench(inventory, "--db", str(db), "--tag", "note=after update")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.exit_code == 6, done.output
    commands = re.findall(r"\(`(llmbox history import [^`]+)` adds them", done.stderr)
    hosts = set(re.findall(r"Warning: (\S+): the run was not saved: .* kept in ", done.stderr))
    assert set(HOSTS) <= hosts, done.stderr  # every host's warning names its file
    for command in dict.fromkeys(commands):  # the commands it names work, tags and all
        added = runner.invoke(app, shlex.split(command)[1:])
        assert added.exit_code == 0, added.output
    with open_store(f"sqlite:///{db}", create=False) as store:
        runs = store.runs(RunFilter())
    assert sorted(r.tags["fleet_host"] for r in runs) == list(HOSTS)
    assert all(r.tags["note"] == "after update" for r in runs)
    assert len({r.tags["fleet_run"] for r in runs}) == 1


def test_an_interrupted_fleet_says_saved_only_where_the_store_took_the_reports() -> None:
    saved = SimpleNamespace(saved=SimpleNamespace(id=1), store_error=None)
    refused = SimpleNamespace(saved=None, store_error=RuntimeError("locked"))
    both = SimpleNamespace(hosts=[saved], store_errors=[])
    failed = SimpleNamespace(hosts=[saved, refused], store_errors=[refused])
    nothing = SimpleNamespace(hosts=[refused], store_errors=[refused])
    assert _kept_where(both, Path("out")) == "written to out/ and saved"
    assert _kept_where(failed, Path("out")) == "written to out/"  # was "…, and saved"
    assert _kept_where(nothing, None) == "shown above"
    assert _kept_where(both, None) == "saved"
