"""Tables and the doctor view fit the terminal (issue 10, item 13)."""

from __future__ import annotations

import pytest

from llmbox.report.terminal import render_table

COLUMNS = ["NAME", "ID", "SIZE", "PARAMETERS", "QUANTIZATION", "MODIFIED"]
ROWS = [
    ["llama3.2-vision:11b", "5a045e8addce", "7.9 GB", "10.7B", "Q4_K_M", "3 days ago"],
    ["qwen3:4b", "c351ea7c6d3f", "2.5 GB", "4.0B", "Q4_K_M", "just now"],
]
WIDE = ["model", "case", "prefill t/s", "decode t/s", "TTFT s", "e2e s", "load ms", "failed"]
WIDE_ROWS = [
    ["qwen3:4b", "pp512 tg128 c4", "1274.5 ± 74.9", "63.5 ± 2.4", "0.450 ± 0.010", "2.434 ± 0.086",
     "5.0 ± 0.0", "0/3"],
]  # fmt: skip


def _words(rows: list[list[str]]) -> set[str]:
    return {w for row in rows for cell in row for w in cell.split()}


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
@pytest.mark.parametrize(("columns", "rows"), [(COLUMNS, ROWS), (WIDE, WIDE_ROWS)])
def test_every_line_fits_and_no_word_is_cut(
    width: int, columns: list[str], rows: list[list[str]]
) -> None:
    text = render_table(columns, rows, width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    shown = {w for line in lines for w in line.split()}
    assert _words(rows) <= shown, f"cut at {width}: {_words(rows) - shown}"
    assert "…" not in text


def test_a_table_that_fits_is_one_line_per_row() -> None:
    text = render_table(COLUMNS, ROWS, width=100)
    assert len(text.splitlines()) == 2 + len(ROWS)
    assert text.splitlines()[2].split()[0] == "llama3.2-vision:11b"


def test_tight_table_first_closes_up_columns_then_wraps_cells() -> None:
    tight = render_table(COLUMNS, ROWS, width=80)
    assert len(tight.splitlines()) == 2 + len(ROWS)  # 84 wide with normal gaps: 2-space gaps fit
    wrapped = render_table(WIDE, WIDE_ROWS, width=80)
    assert len(wrapped.splitlines()) > 3  # cells wrap at spaces


def test_no_room_for_columns_gives_one_block_per_row() -> None:
    text = render_table(WIDE, WIDE_ROWS, width=40)
    assert "prefill t/s  1274.5 ± 74.9" in text


def test_width_comes_from_columns_and_is_unlimited_when_piped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert all(len(line) <= 60 for line in render_table(WIDE, WIDE_ROWS).splitlines())
    monkeypatch.delenv("COLUMNS")
    text = render_table(WIDE, WIDE_ROWS)  # stdout is not a terminal under pytest
    assert len(text.splitlines()) == 3


def test_cells_are_text_not_markup() -> None:
    text = render_table(["error"], [["pull failed [404] [bold]x[/bold]"]], width=100)
    assert "pull failed [404] [bold]x[/bold]" in text


def test_doctor_keeps_to_a_narrow_terminal_and_loses_no_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmbox.doctor import DoctorReport, LoadedModel, Problem
    from llmbox.report.terminal import render_doctor

    report = DoctorReport(
        host="http://gpu-box:11434",
        reachable=True,
        version="0.13.0",
        models=["llama3.2-vision:11b"],
        loaded=[LoadedModel("llama3.2-vision:11b", 12_000_000_000, 11_000_000_000,
                            "7%/93% CPU/GPU", 4096)],
        env={"OLLAMA_KEEP_ALIVE": "24h", "OLLAMA_HOST": "0.0.0.0:11434"},
        problems=[Problem("llama3.2-vision:11b does not fit on the GPU (7%/93% CPU/GPU); CPU "
                          "layers slow it down", "use a smaller quantization or context")],
    )  # fmt: skip
    wide = render_doctor(report)
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render_doctor(report)
    assert max(len(line) for line in narrow.splitlines()) <= 40, narrow
    assert narrow.split() == wide.split()  # the same words, wrapped
