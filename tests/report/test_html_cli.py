"""`llmbox report` from the command line: saved JSON files in, a page, images or Markdown out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests._pipes import through_a_pipe
from tests.browser.reports import bench_report, shared_vega_cache

runner = CliRunner()


@pytest.fixture(autouse=True)
def _vega_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_vega_cache(tmp_path_factory.getbasetemp())))


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    paths = []
    for day in range(2):
        path = tmp_path / f"run{day}.json"
        path.write_text(json.dumps(bench_report(day=day)))
        paths.append(path)
    return paths


def report(*argv: str, code: int = 0) -> tuple[str, str]:
    result = runner.invoke(app, ["report", *argv])
    assert result.exit_code == code, result.output
    return result.stdout, result.stderr


def test_two_saved_runs_become_one_offline_page(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    stdout, stderr = report(*map(str, runs), "-o", str(out))
    assert stdout == ""
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert page.count('data-chart="chart-') == 8  # all of them: two days make a trend
    assert "wrote" in stderr
    assert f"open it: {out.resolve().as_uri()}" in stderr
    assert len(page.encode()) < 1_500_000  # the bundle (~0.9 MB) once, data aggregated


def test_a_directory_stands_for_its_json_files(runs: list[Path], tmp_path: Path) -> None:
    stdout, _ = report(str(runs[0].parent), "-f", "md", "-q")
    assert "2 run(s)" in stdout


def test_html_goes_to_stdout_when_redirected(runs: list[Path]) -> None:
    stdout, stderr = report(str(runs[0]), "-q")
    assert stdout.startswith("<!doctype html>")
    assert stderr == ""


def test_images_are_rendered_without_a_browser(runs: list[Path], tmp_path: Path) -> None:
    md_path = tmp_path / "out" / "comment.md"
    md_path.parent.mkdir()
    png, svg = tmp_path / "out" / "charts", tmp_path / "svg"
    _, stderr = report(
        *map(str, runs), "-f", "md", "-o", str(md_path), "--png", str(png), "--svg", str(svg)
    )
    pngs, svgs = sorted(png.glob("*.png")), sorted(svg.glob("*.svg"))
    assert [p.stem for p in pngs] == [p.stem for p in svgs]
    assert {"speed-vs-prompt", "trend", "ceiling", "models"} <= {p.stem for p in pngs}
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert all(b"<svg" in p.read_bytes()[:200] for p in svgs)
    md = md_path.read_text()
    for p in pngs:  # links relative to the comment, so they resolve beside it
        assert f"(charts/{p.name})" in md
    assert f"wrote {len(pngs)} PNG image(s)" in stderr


def test_markdown_without_images_is_tables_only(runs: list[Path]) -> None:
    stdout, _ = report(str(runs[0]), "-f", "md")
    assert "| series | prompt tokens |" in stdout
    assert "![" not in stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not an llmbox benchmark result"),
        (json.dumps({**bench_report(), "backend": 7}), "backend"),
    ],
)
def test_a_bad_input_file_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, words: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    _, stderr = report(str(path), "-o", str(tmp_path / "r.html"), code=2)
    assert stderr.startswith("Error: ")
    assert words in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "r.html").exists()


def test_no_input_says_what_to_give() -> None:
    # Without files the runs come from the results store: here an empty one, or none at all.
    _, stderr = report(code=2)
    assert "saved runs: llmbox report run1.json run2.json -o r.html" in stderr


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, stderr = report(str(tmp_path / "empty"), "-f", "md", code=2)
    assert "holds no .json files" in stderr


def test_unknown_chip_suggests_names(runs: list[Path]) -> None:
    _, stderr = report(str(runs[0]), "-f", "md", "--chip", "m4prp", code=2)
    assert "unknown chip 'm4prp'" in stderr
    assert "m4pro" in stderr


def test_chip_override_is_used_for_the_ceilings(runs: list[Path]) -> None:
    stdout, _ = report(str(runs[0]), "-f", "md", "--chip", "m4pro")
    assert "Apple M4 Pro" in stdout


def test_without_the_chart_libraries_it_says_which_extra(
    runs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "altair", None)
    _, stderr = report(str(runs[0]), "-f", "md", code=2)
    assert "Hint: pip install 'llmbox[report]'" in stderr


def test_help_does_not_import_the_chart_libraries() -> None:
    import subprocess

    code = (
        "import sys; from typer.testing import CliRunner; from llmbox.cli import app;"
        "r = CliRunner().invoke(app, ['report', '--help']); assert r.exit_code == 0, r.output;"
        "bad = [m for m in ('altair', 'vl_convert', 'llmbox.report.charts') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_image_directory_that_is_a_file_is_one_line(runs: list[Path], tmp_path: Path) -> None:
    blocker = tmp_path / "charts"
    blocker.write_text("not a directory")
    _, stderr = report(str(runs[0]), "-f", "md", "--png", str(blocker), code=2)
    assert stderr.startswith(f"Error: cannot write images to {blocker}")
    assert "Traceback" not in stderr


def test_a_file_given_twice_counts_once(runs: list[Path]) -> None:
    stdout, _ = report(str(runs[0]), str(runs[0]), str(runs[0].parent), "-f", "md", "-q")
    assert "2 run(s)" in stdout


def test_output_over_a_results_store_is_refused_before_any_work(
    runs: list[Path], tmp_path: Path
) -> None:
    import sqlite3

    store = tmp_path / "history.db"
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER)")
    before = store.read_bytes()
    _, stderr = report(str(runs[0]), "-o", str(store), code=2)
    assert stderr.startswith(f"Error: {store} is a SQLite database")
    assert store.read_bytes() == before


def test_output_to_a_pipe_writes_into_it(runs: list[Path], tmp_path: Path) -> None:
    got = through_a_pipe(tmp_path, lambda fifo: report(str(runs[0]), "-f", "md", "-o", str(fifo)))
    assert got.decode().startswith("## llmbox benchmark report")
