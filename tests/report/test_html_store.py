"""`llmbox report` over the results store: filters choose the runs, and the regressions the
store's change-point test finds are marked on the trend. Skipped while llmbox has no store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report.charts import build
from llmbox.report.inputs import StoreQuery, load_store
from tests.browser.reports import MODELS, bench_report, shared_vega_cache, typed

store = pytest.importorskip("llmbox.store", reason="the results store is not in this build")
DAYS = 8  # four at the old speed, four with llama3.2:3b 30 % slower


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with store.open_store(url) as s:
        for day in range(DAYS):
            data = bench_report(day=day)
            if day >= DAYS // 2:
                slowed = bench_report(day=day, slow=1.3, models=MODELS[:1])
                data["results"] = slowed["results"] + data["results"][len(slowed["results"]) :]
            s.save(typed(data), tags={"day": str(day)})
    return url


def test_the_store_gives_the_runs_and_their_regressions(db: str) -> None:
    reports, regressions = load_store(StoreQuery(db=db))
    assert len(reports) == DAYS
    assert regressions
    assert {r.model for r in regressions} == {"llama3.2:3b"}
    doc = build(reports, load_catalog(), load_models(), regressions=regressions)
    trend = next(c for c in doc.charts if c.name == "trend")
    flagged = [r for r in trend.rows if "regression" in r]
    assert flagged
    assert all(r["series"] == "llama3.2:3b" and r["regression"] < -10 for r in flagged)
    assert trend.points == len(trend.rows) + len(flagged)


def test_filters_choose_the_runs(db: str) -> None:
    reports, _ = load_store(StoreQuery(db=db, models=("qwen3:4b",), tags=("day=1",)))
    assert len(reports) == 1
    # the run is whole as saved; the model filter selects runs that hold the model
    assert "qwen3:4b" in {r.model for r in reports[0].results}


def test_report_from_the_store_on_the_command_line(
    db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_vega_cache(tmp_path_factory.getbasetemp())))
    monkeypatch.setenv("LLMBOX_DB", db)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "--since", "2026-01-07", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Red triangles mark the regressions the results store found" in out.read_text()
    md = CliRunner().invoke(app, ["report", "-f", "md", "-q", "--since", "2026-01-07"])
    assert f"{DAYS - 2} run(s)" in md.stdout


def test_an_empty_selection_is_one_line(db: str) -> None:
    result = CliRunner().invoke(app, ["report", "--db", db, "--model", "nope:1b", "-f", "md"])
    assert result.exit_code == 2
    assert "no runs match these filters" in result.stderr


def test_files_and_filters_do_not_mix(db: str, tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(typed(bench_report()).model_dump_json(by_alias=True))
    result = CliRunner().invoke(app, ["report", str(path), "--model", "x", "-f", "md"])
    assert result.exit_code == 2
    assert "filters choose runs from the results store" in result.stderr


def test_a_misspelt_backend_is_named(db: str) -> None:
    from llmbox.errors import UsageError

    with pytest.raises(UsageError, match="unknown backend 'olama'"):
        load_store(StoreQuery(db=db, backends=("olama",)))
