"""docs/benchmarking.md must keep up with the code: every metric, statistic, warning code, schema
field and CSV column named in the code is explained there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmbox.bench.fields import METRICS, STATS
from llmbox.bench.warnings import ADVICE
from llmbox.report.exporters import CASE_COLUMNS, CSV_COLUMNS, MODEL_COLUMNS
from llmbox.results import (
    SCHEMA,
    BatchStats,
    CaseResult,
    ModelInfo,
    Options,
    RunSample,
)
from tests.report.sample import sample_report

DOC = (Path(__file__).parents[2] / "docs" / "benchmarking.md").read_text(encoding="utf-8")
NAMES = set(re.findall(r"`([^`]+)`", DOC)) | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", DOC))

REPORT = sample_report()
EXPECTED = {
    "metric": list(METRICS),
    "statistic": list(STATS),
    "warning code": list(ADVICE),
    "report field": list(REPORT.to_json_dict()),
    "result field": list(CaseResult.model_fields),
    "case field": list(REPORT.to_json_dict()["results"][0]["case"]),
    "run field": list(RunSample.model_fields),
    "model_info field": list(ModelInfo.model_fields),
    "batch field": list(BatchStats.model_fields),
    "options field": list(Options.model_fields),
    "csv column": [c for c in CSV_COLUMNS if not re.search(r"_(mean|sd|median|min|max)$", c)],
    "case/model csv column": [*CASE_COLUMNS, *MODEL_COLUMNS],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_documented(kind: str) -> None:
    missing = [name for name in EXPECTED[kind] if name not in NAMES]
    assert not missing, f"docs/benchmarking.md does not mention {kind}(s): {missing}"


def test_schema_version_documented() -> None:
    assert SCHEMA in DOC


def test_published_json_schema_is_current() -> None:
    """docs/schema/bench-1.json is generated from the report model; regenerate with `make docs`."""
    import json

    from llmbox.results import json_schema

    path = Path(__file__).parents[2] / "docs" / "schema" / "bench-1.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json_schema(), (
        "docs/schema/bench-1.json is stale: run `make docs`"
    )
