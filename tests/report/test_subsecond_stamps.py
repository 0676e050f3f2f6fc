"""Runs started within one second are told apart: each is a point of the report's trend and of
the store's series, a regression is marked on the run that brought it, and files stamped to the
second (every report before) load, dedupe and chart as they always did."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.report import data as d
from llmbox.report.exporters import to_csv, to_json, to_markdown
from llmbox.report.inputs import StoreQuery, load_store
from llmbox.results import BenchReport
from tests.fakes.ollama import FakeOllama
from tests.store.reports import T0, report

SECOND = datetime(2026, 11, 30, 16, 25, 49, tzinfo=timezone.utc)
QUICK = ["--runs", "3", "--warmup", "0", "--max-tokens", "16", "--prompt-tokens", "32", "-q"]


class _OneSecond(datetime):
    """A clock stuck in one second: each reading is 10 ms after the one before."""

    readings = 0

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        cls.readings += 1
        return (SECOND + timedelta(milliseconds=10 * cls.readings)).astimezone(tz)


@pytest.fixture
def one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run the benchmark stamps starts and ends within ``SECOND``."""
    monkeypatch.setattr(_OneSecond, "readings", 0)
    monkeypatch.setattr("llmbox.bench.runner.datetime", _OneSecond)
    monkeypatch.setattr("llmbox.fleet._bench.datetime", _OneSecond)


def llmbox(*argv: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == code, result.output
    return result


def test_three_runs_in_one_second_are_three_points_and_the_slow_one_is_flagged(
    one_second: None, fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("LLMBOX_DB", db)
    model = fake_ollama.find("llama3.2")
    assert model is not None
    for decode in (500.0, 500.0, 300.0):  # the third run is deliberately slowed
        model.decode_tps = decode
        llmbox("bench", "llama3.2", "--host", fake_ollama.url, *QUICK)

    runs = sorted(json.loads(llmbox("history", "-f", "json").stdout), key=lambda r: r["id"])
    stamps = [r["started_at"] for r in runs]
    assert len(set(stamps)) == 3
    assert all(s.startswith("2026-11-30T16:25:49.") for s in stamps)
    assert stamps == sorted(stamps)  # started in the order they ran

    changes = json.loads(llmbox("history", "regressions", "-f", "json").stdout)
    (change,) = [c for c in changes if c["metric"] == "decode_tps"]
    assert (change["before_run"], change["after_run"]) == (runs[1]["id"], runs[2]["id"])
    assert change["at"] == stamps[2]  # the slowed run's start, not its predecessor's too

    reports, regressions = load_store(StoreQuery(db=db))
    rows = d.trend(d.entries(reports), regressions)
    assert len(rows) == 3  # one point per run, none merged into its neighbour
    assert len({r["at"] for r in rows}) == 3
    assert [r["at"] for r in rows if "regression" in r] == [rows[-1]["at"]]
    assert re.fullmatch(r"2026-11-30T16:25:49\.\d{3}Z", rows[-1]["at"])  # ms: any browser reads it


def test_two_fleet_runs_in_one_second_get_their_own_tags(one_second: None) -> None:
    from llmbox.fleet._bench import new_run_tag

    first, second = new_run_tag(), new_run_tag()
    assert first != second
    assert re.fullmatch(r"20261130T162549\.\d{6}Z", first)


def test_a_report_keeps_the_microseconds_and_people_read_seconds(one_second: None) -> None:
    from llmbox.bench.runner import now_utc

    started = now_utc()
    assert started == "2026-11-30T16:25:49.010000Z"
    data = report(started=SECOND)
    data["started_at"] = started
    typed = BenchReport.parse(data)
    assert json.loads(to_json(typed))["started_at"] == started
    assert to_csv(typed).splitlines()[1].endswith(f",{started}")
    assert "started 2026-11-30T16:25:49Z" in to_markdown(typed)  # no µs in human text


def test_files_stamped_to_the_second_import_dedupe_and_chart_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBOX_DB", str(tmp_path / "history.db"))
    paths = []
    for day in range(2):
        data = report(started=T0 + timedelta(days=day))
        assert data["started_at"].endswith(":00Z")  # the old form: no fraction
        paths.append(tmp_path / f"day{day}.json")
        paths[-1].write_text(json.dumps(data), encoding="utf-8")
    llmbox("history", "import", *map(str, paths))
    llmbox("history", "import", str(paths[0]))  # the same file again adds nothing
    assert len(json.loads(llmbox("history", "-f", "json").stdout)) == 2
    reports, _ = load_store(StoreQuery(db=str(tmp_path / "history.db")))
    rows = d.trend(d.entries(reports))
    assert [r["at"] for r in rows] == [
        (T0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ") for day in range(2)
    ]
