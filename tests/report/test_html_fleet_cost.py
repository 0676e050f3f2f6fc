"""The report's fleet view and cost charts, from typed reports (no browser): what they hold is
what `fleet bench` found and what `llmbox cost` computes for the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.cost.prices import load_prices
from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models
from llmbox.report.charts import Document, build
from tests.browser.reports import (
    FLEET_HOSTS,
    MEASURED_WATTS,
    fleet_history,
    history,
)

APIS = ["claude-sonnet-4-6", "gpt-5.4-mini"]
runner = CliRunner()


@pytest.fixture(scope="module")
def doc() -> Document:
    return build(fleet_history(), load_catalog(), load_models(), prices=load_prices(), apis=APIS)


def test_the_fleet_is_each_hosts_latest_run_with_the_slow_host_flagged(doc: Document) -> None:
    assert doc.fleet is not None
    assert [h.host.name for h in doc.fleet.hosts] == list(FLEET_HOSTS)
    assert all(h.report and h.report.started_at.startswith("2026-01-06") for h in doc.fleet.hosts)
    assert {o.host for o in doc.fleet.outliers} == {"st-2"}
    names = [c.name for c in doc.charts]
    assert "fleet-trend" in names
    trend = next(c for c in doc.charts if c.name == "fleet-trend")
    assert {r["series"] for r in trend.rows} == set(FLEET_HOSTS)  # a line per host
    assert len(trend.rows) == len(FLEET_HOSTS) * 2 * 8 * 2  # hosts × models × cases × runs


def test_no_fleet_view_for_runs_of_one_machine() -> None:
    plain = build(history(), load_catalog(), load_models(), prices=load_prices(), apis=APIS)
    assert plain.fleet is None
    assert "fleet-trend" not in [c.name for c in plain.charts]
    # box-a has no chip the catalog knows and measured no power: not priced, and said why
    assert plain.costs is not None
    assert plain.costs.rows == []
    assert "no power figure" in plain.costs.missing[0][1]


def test_energy_is_measured_where_bench_power_ran_else_estimated(doc: Document) -> None:
    assert doc.costs is not None
    rows = {r["series"]: r for r in doc.costs.rows}
    assert len(rows) == 2 * len(FLEET_HOSTS)
    measured = rows["qwen3:4b · st-0"]
    assert measured["energy"] == "measured"
    assert measured["watts"] == MEASURED_WATTS
    assert measured["j_per_token"] == pytest.approx(MEASURED_WATTS / measured["output_tps"], 1e-3)
    assert measured["measured_j_per_token"] > 0
    other = rows["llama3.2:3b · st-0"]
    assert other["energy"] == "estimated"
    assert other["watts"] == 65.0  # the catalog's board power of the M4 (10-core GPU)
    assert "catalog board power" in other["energy_source"]
    assert other["usd_per_mtok"] == pytest.approx(
        other["energy_usd_per_mtok"] + other["hardware_usd_per_mtok"], rel=1e-3
    )


def test_figures_are_llmbox_costs_for_the_same_run(doc: Document, tmp_path: Path) -> None:
    report = next(r for r in fleet_history()[3:] if r.machine["fleet_host"] == "st-0")
    path = tmp_path / "st-0.json"
    path.write_text(report.model_dump_json(by_alias=True))
    assert doc.costs is not None
    row = next(r for r in doc.costs.rows if r["series"] == "qwen3:4b · st-0")
    for api in APIS:
        done = runner.invoke(app, ["cost", "--from-bench", str(path), "--model", "qwen3:4b",
                                   "--api", api, "-f", "json"])  # fmt: skip
        assert done.exit_code == 0, done.output
        cost = json.loads(done.stdout)
        local = cost["local"]
        assert row["j_per_token"] == pytest.approx(local["joules_per_token"], rel=1e-3)
        assert row["energy_usd_per_mtok"] == pytest.approx(
            local["energy_usd_per_mtok_output"], rel=1e-3
        )
        assert row["usd_per_mtok"] == pytest.approx(local["usd_per_mtok_output"], rel=1e-3)
        be = [b for b in doc.costs.breakeven if b["series"] == row["series"] and b["api"] == api]
        if cost["breakeven_tokens_per_day"] is None:
            assert be == []
        else:
            assert be[0]["tokens_per_day"] == pytest.approx(
                cost["breakeven_tokens_per_day"], rel=1e-3
            )


def test_break_even_curves_cross_where_the_dots_are(doc: Document) -> None:
    assert doc.costs is not None
    assert doc.costs.breakeven, "a $599 machine pays off against a frontier API"
    for b in doc.costs.breakeven:
        curve = [c for c in doc.costs.curves if c["series"] == b["series"]]
        local = {c["tokens_per_day"]: c["usd_per_month"] for c in curve if c["line"] == "local"}
        api = {c["tokens_per_day"]: c["usd_per_month"] for c in curve if c["line"] == b["api"]}
        below = [t for t in local if t < b["tokens_per_day"]]
        above = [t for t in local if t > b["tokens_per_day"]]
        assert all(local[t] > api[t] for t in below)  # below break-even the API is cheaper
        assert all(local[t] <= api[t] for t in above)


def test_report_cli_api_option(tmp_path: Path) -> None:
    files = []
    for i, report in enumerate(fleet_history()):
        files.append(tmp_path / f"r{i}.json")
        files[-1].write_text(report.model_dump_json(by_alias=True))
    out = tmp_path / "r.html"
    done = runner.invoke(app, ["report", *map(str, files), "--api", "gpt-5", "-o", str(out)])
    assert done.exit_code == 0, done.output
    page = out.read_text()
    assert 'id="section-fleet"' in page
    assert "break-even vs gpt-5 (tokens/day)" in page
    assert 'id="chart-breakeven"' in page
    bad = runner.invoke(app, ["report", str(files[0]), "--api", "claude-sonet-4-6", "-o",
                              str(out)])  # fmt: skip
    assert bad.exit_code == 2
    assert "claude-sonnet-4-6" in bad.stderr  # the close name


def test_markdown_has_the_cost_table(doc: Document) -> None:
    from llmbox.report.static import render_markdown

    text = render_markdown(doc)
    assert "| series | J per output token | local USD per M output | break-even vs" in text
    assert "| qwen3:4b · st-0 | " in text
    cost = text[text.index("| series | J per output token") :].splitlines()
    assert next(x for x in cost if x.startswith("| llama3.2:3b · st-0 |")).count("(est.)") == 1
    assert "(est.)" not in next(x for x in cost if x.startswith("| qwen3:4b · st-0 |"))


def test_a_broken_price_file_only_costs_the_cost_charts(tmp_path: Path) -> None:
    from llmbox.cost.prices import user_prices_path

    path = user_prices_path()
    path.parent.mkdir(parents=True)
    path.write_text("schema: llmbox.api_prices/1\nprices:\n  - {name: mine, input: 1}\n")
    run = tmp_path / "run.json"
    run.write_text(fleet_history()[0].model_dump_json(by_alias=True))
    out = tmp_path / "r.html"
    done = runner.invoke(app, ["report", str(run), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "no cost charts" in done.stderr
    assert 'id="chart-speed-vs-prompt"' in out.read_text()
    asked = runner.invoke(app, ["report", str(run), "--api", "gpt-5", "-o", str(out)])
    assert asked.exit_code == 2  # asked for a cost: the file's error, with its line
    assert f"{path}:3:" in asked.stderr
