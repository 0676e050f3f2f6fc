from __future__ import annotations

from pathlib import Path

import pytest

from llmbox.bench.grid import (
    GridOptions,
    available_suites,
    cases_from_options,
    expand,
    label_for,
    load_suite,
    parse_int_list,
)
from llmbox.errors import ConfigError, UsageError
from llmbox.results import Case


def test_lists_expand_into_a_grid_with_llama_bench_labels() -> None:
    cases = cases_from_options(
        GridOptions(prompt_tokens=[128, 512], max_tokens=[32], concurrency=[1, 4])
    )
    assert [c.label for c in cases] == [
        "pp128 tg32",
        "pp128 tg32 c4",
        "pp512 tg32",
        "pp512 tg32 c4",
    ]


def test_grid_is_model_major_and_groups_context_sizes() -> None:
    cases = cases_from_options(GridOptions(num_ctx=[8192, 2048], max_tokens=[16, 32]))
    grid = expand(["a", "b"], cases)
    assert [m for m, _ in grid] == ["a"] * 4 + ["b"] * 4
    # each model loads once per context size: all 2048 cases before all 8192 cases
    assert [c.num_ctx for _, c in grid[:4]] == [2048, 2048, 8192, 8192]


def test_defaults_are_pp512_tg128() -> None:
    assert [c.label for c in cases_from_options(GridOptions())] == ["pp512 tg128"]


def test_literal_prompt_case_label() -> None:
    case = Case(label="", prompt="hi", max_tokens=64, think=False, images=1)
    assert label_for(case) == "prompt tg64 +img no-think"


@pytest.mark.parametrize("bad", ["a", "1,,2", "0", "-4"])
def test_bad_list_values_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--concurrency"):
        parse_int_list(bad, "--concurrency")


def test_k_suffix() -> None:
    assert parse_int_list("4k,8192", "--num-ctx") == [4096, 8192]


def test_shipped_suites_load() -> None:
    assert {"quick", "llama-bench", "context-depth", "vision"} <= set(available_suites())
    for name in available_suites():
        suite, base = load_suite(name)
        for case in suite.to_cases(base):
            assert all(Path(p).is_file() for p in case.image_paths), name


def test_bad_suite_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ncases:\n  - prompt_tokens: 64\n    max_tokns: 3\n")
    with pytest.raises(
        ConfigError,
        match=r"s.yaml:4: unknown key 'max_tokns' in cases.0 \(did you mean 'max_tokens'\?\)",
    ):
        load_suite(str(path))


def test_unknown_suite_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        load_suite("nope")
    assert "quick" in (info.value.hint or "")
