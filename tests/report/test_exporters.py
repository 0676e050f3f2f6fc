"""Exporters: golden files for every format, plus structural checks on jsonl/csv and atomic writes.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/report``
and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from llmbox.bench.fields import CSV_STATS, METRICS
from llmbox.errors import UsageError
from llmbox.report import exporters
from llmbox.report.exporters import CSV_COLUMNS, EXPORTERS, render, write_atomic
from llmbox.results import BenchReport, GateResult

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"  # read at import: the autouse fixture clears env
SUFFIX = {"table": "txt", "json": "json", "jsonl": "jsonl", "csv": "csv", "md": "md"}


def test_registry_has_every_documented_format() -> None:
    assert set(EXPORTERS) == {"table", "json", "jsonl", "csv", "md"}


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_golden(fmt: str, report: BenchReport) -> None:
    path = GOLDEN / f"report.{SUFFIX[fmt]}"
    text = render(fmt, report)
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} missing: run UPDATE_GOLDEN=1 pytest tests/report and review it")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_saved_json_renders_like_the_live_dict(fmt: str, report: BenchReport) -> None:
    """``bench compare`` and re-rendering work on ``json.load`` of a saved file."""
    loaded = BenchReport.parse(json.loads(render("json", report)))
    assert render(fmt, loaded) == render(fmt, report)


def test_a_report_written_by_the_first_release_still_loads() -> None:
    old = Path(__file__).parents[1] / "data" / "bench_v1_first_wave.json"
    report = BenchReport.load(old)
    assert report.results[0].summary["decode_tps"].mean > 0
    assert report.options.nonce is None  # a field added since: its default
    assert "qwen3:4b" in render("table", report)


def test_json_is_the_whole_report_in_order(report: BenchReport) -> None:
    text = render("json", report)
    assert json.loads(text) == report.to_json_dict()
    assert list(json.loads(text)) == list(report.to_json_dict())
    assert BenchReport.parse(json.loads(text)) == report
    assert text.startswith('{\n  "schema": "llmbox.bench/1"')


def test_jsonl_lines_are_self_contained(report: BenchReport) -> None:
    lines = render("jsonl", report).splitlines()
    data = report.to_json_dict()
    assert len(lines) == len(data["results"]) == 4
    for line, result in zip(lines, data["results"], strict=True):
        row = json.loads(line)
        for key in ("schema", "llmbox_version", "server", "machine", "started_at"):
            assert row[key] == data[key]
        assert row["model"] == result["model"]
        assert row["case"] == result["case"]
        assert row["summary"] == result["summary"]
        assert row["runs"] == result["runs"]


def test_jsonl_carries_the_gates_of_its_own_result(report: BenchReport) -> None:
    gate = GateResult(model="llama3.1:8b", case="pp512 tg128", metric="decode_tps", stat="mean",
                      value=1.0, limit=2.0, kind="under", passed=False, message="slow")  # fmt: skip
    report.gates = [gate]
    rows = [json.loads(line) for line in render("jsonl", report).splitlines()]
    assert [r["gates"] for r in rows] == [[], [], [gate.model_dump()], []]


def test_csv_parses_with_the_documented_header(report: BenchReport) -> None:
    reader = csv.DictReader(io.StringIO(render("csv", report)))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [(r["model"], r["case"]) for r in rows] == [
        (res.model, res.case.label) for res in report.results
    ]
    qwen, _, llama, llama_c4 = rows
    assert float(qwen["decode_tps_mean"]) == report.results[0].summary["decode_tps"].mean
    assert qwen["digest"] == "e55aed6fe643"
    assert qwen["processor"] == "100% GPU"
    assert qwen["cold"] == "false"
    assert qwen["think"] == ""
    assert llama["answer_tps_mean"] == ""  # not measured: empty, not 0
    assert llama["aggregate_tps_sd"] == ""
    assert llama_c4["runs"] == "8"
    assert llama_c4["failed_runs"] == "1"
    assert llama_c4["warnings"] == "failed_runs;cpu_spill;queued"
    assert float(llama_c4["aggregate_tps_mean"]) == pytest.approx((512 / 10 + 384 / 10.5) / 2)


def test_csv_columns_cover_every_metric_and_stat() -> None:
    for metric in METRICS:
        for stat in CSV_STATS:
            assert f"{metric}_{stat}" in CSV_COLUMNS
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)


def _headers(table: str) -> str:
    return next(line for line in table.splitlines() if "decode t/s" in line)


def _only(report: BenchReport, model: str, label: str) -> BenchReport:
    report = report.model_copy(deep=True)
    report.results = [r for r in report.results if r.model == model and r.case.label == label]
    return report


def test_table_shows_only_what_varies(report: BenchReport) -> None:
    full = _headers(render("table", report))
    for column in ("model", "case", "conc", "processor", "aggregate t/s", "answer t/s"):
        assert column in full
    assert "cached" in full
    assert "failed" in full

    one = render("table", _only(report, "llama3.1:8b", "pp512 tg128"))
    assert one.splitlines()[0] == "llama3.1:8b · pp512 tg128"  # constant identity: the title
    columns = _headers(one)
    for absent in ("model", "case", "conc", "aggregate", "answer", "cached", "failed"):
        assert absent not in columns
    assert "processor" in columns  # 12%/88% CPU/GPU is worth a column
    assert "prefill t/s" in columns
    assert "decode t/s" in columns


def test_table_hides_processor_when_all_on_gpu(report: BenchReport) -> None:
    text = render("table", _only(report, "qwen3:4b", "pp512 tg128 c4"))
    assert "processor" not in text
    assert "aggregate t/s" in text  # concurrency 4
    assert "answer t/s" in text  # thinking tokens
    assert "TTFT answer" in text


def test_table_cells_and_units(report: BenchReport) -> None:
    text = render("table", report)
    assert "63.5 ± 2.4" in text  # decode t/s, 1 decimal
    assert "0.450 ± 0.010" in text  # TTFT in seconds (some mean ≥ 1 s), 3 decimals
    assert "5.0 ± 0.0" in text  # load in ms (all means < 1 s)
    assert "load ms" in text
    assert "TTFT s" in text
    assert "1/8" in text


def test_table_ends_with_verdicts(report: BenchReport) -> None:
    text = render("table", report)
    assert text.rstrip().splitlines()[-4:] == [
        "qwen3:4b ran 2.00 ± 0.11× faster than llama3.1:8b at decode (pp512 tg128)",
        "qwen3:4b ran 1.97 ± 0.12× faster than llama3.1:8b at prefill (pp512 tg128)",
        "qwen3:4b ran 1.77 ± 0.10× faster than llama3.1:8b at decode (pp512 tg128 c4)",
        "qwen3:4b ran 1.78 ± 0.07× faster than llama3.1:8b at prefill (pp512 tg128 c4)",
    ]


def test_single_run_shows_no_spread(report: BenchReport) -> None:
    one = _only(report, "qwen3:4b", "pp512 tg128")
    for stats in one.results[0].summary.values():
        stats.n = 1.0
    text = render("table", one)
    assert "±" not in text


def test_md_lists_warnings_and_failed_gates(report: BenchReport) -> None:
    def gate(model: str, passed: bool, message: str) -> GateResult:
        return GateResult(model=model, case="pp512 tg128", metric="decode_tps", stat="mean",
                          value=1.0, limit=1.0, kind="under", passed=passed, message=message)  # fmt: skip

    report.gates = [gate("qwen3:4b", True, "fine"), gate("llama3.1:8b", False, "too slow")]
    text = render("md", report)
    assert "**Gates**: 1 passed, 1 failed" in text
    assert "- llama3.1:8b pp512 tg128: too slow" in text
    assert "fine" not in text
    assert "(`cpu_spill`)" in text
    header = text.splitlines()[0]
    assert header.startswith("| model | case | prefill t/s | decode t/s |")


def test_md_escapes_pipes(report: BenchReport) -> None:
    first = report.results[0]
    first.case = first.case.model_copy(update={"label": "a|b"})
    assert "| a\\|b |" in render("md", report)


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_empty_and_interrupted_reports_render(fmt: str, report: BenchReport) -> None:
    report.results = []
    report.interrupted = True
    text = render(fmt, report)
    assert text.endswith("\n") or text == ""
    if fmt == "csv":
        assert text.splitlines() == [",".join(CSV_COLUMNS)]


def test_interrupted_is_said_in_table_and_md(report: BenchReport) -> None:
    report.interrupted = True
    assert "interrupted" in render("table", report)
    assert "**Interrupted**" in render("md", report)


def test_result_with_no_successful_run(report: BenchReport) -> None:
    broken = report.results[2]
    broken.summary = {}
    broken.failed_runs = 3
    table = render("table", report)
    assert "3/3" in table
    row = next(line for line in table.splitlines() if "llama3.1:8b" in line and "c4" not in line)
    assert " - " in row
    # no verdict for a model without a decode rate in that case
    assert "at decode (pp512 tg128)" not in table
    csv_row = list(csv.DictReader(io.StringIO(render("csv", report))))[2]
    assert csv_row["decode_tps_mean"] == ""


def test_unknown_format_is_a_usage_error(report: BenchReport) -> None:
    with pytest.raises(UsageError) as err:
        render("xml", report)
    assert "table" in (err.value.hint or "")


def test_write_atomic_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out" / "bench.json"
    write_atomic(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    write_atomic(target, "second ±\n")
    assert target.read_bytes() == "second ±\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["bench.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~exporters._umask()


def test_write_atomic_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bench.csv"
    target.write_text("old\n", encoding="utf-8")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UsageError, match="No space left"):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.csv"]


def test_write_atomic_unwritable_dir_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot write"):
        write_atomic(blocker / "bench.json", "{}")


def test_samples_share_no_per_instance_field_record_yet_behave_as_models() -> None:
    # RunSample drops pydantic's per-instance "fields given" set to keep long runs small
    # (make bench: memory per request); copying, assigning and round-tripping must still work.
    from llmbox.results import RunSample

    a = RunSample(eval_count=3, ttft_s=0.2, done_reason="stop")
    b = RunSample(prompt_eval_count=9)
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    a.queue_s = 0.5
    copied = a.model_copy(update={"e2e_s": 1.5})
    assert (copied.e2e_s, copied.queue_s, copied.eval_count) == (1.5, 0.5, 3)
    assert not b.model_fields_set  # nothing leaked from a's assignment
    assert RunSample.model_validate_json(a.model_dump_json()) == a
    assert len(a.model_dump()) == len(RunSample.model_fields)  # every field is exported


def test_write_atomic_writes_into_pipes_and_devices_and_follows_symlinks(tmp_path: Path) -> None:
    # As root, replacing /dev/null by rename succeeds and breaks the machine: never rename over a
    # device or a pipe; write into it. A symlink keeps pointing at the (new) file.
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(5)
    assert got == [b"through the pipe\n"]
    assert fifo.is_fifo()
    write_atomic("/dev/null", "nothing\n")
    assert Path("/dev/null").is_char_device()
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert real.read_text() == "new\n"
