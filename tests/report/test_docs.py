"""docs/benchmarking.md must keep up with the code: every metric, statistic, warning code, schema
field and CSV column named in the code is explained there."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from llmbox.bench.fields import METRICS, STATS
from llmbox.bench.types import SCHEMA, BatchStats, BenchReport, ModelInfo, RunSample
from llmbox.bench.warnings import ADVICE
from llmbox.report.exporters import CASE_COLUMNS, CSV_COLUMNS, MODEL_COLUMNS
from tests.report.sample import sample_report

DOC = (Path(__file__).parents[2] / "docs" / "benchmarking.md").read_text(encoding="utf-8")
NAMES = set(re.findall(r"`([^`]+)`", DOC)) | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", DOC))

REPORT = sample_report()
EXPECTED = {
    "metric": list(METRICS),
    "statistic": list(STATS),
    "warning code": list(ADVICE),
    "report field": list(REPORT),
    "result field": list(REPORT["results"][0]),
    "case field": list(REPORT["results"][0]["case"]),
    "run field": [f.name for f in fields(RunSample)],
    "model_info field": [f.name for f in fields(ModelInfo)],
    "batch field": [f.name for f in fields(BatchStats)] + ["aggregate_tps"],
    "report dataclass field": [f.name for f in fields(BenchReport)],
    "csv column": [c for c in CSV_COLUMNS if not re.search(r"_(mean|sd|median|min|max)$", c)],
    "case/model csv column": [*CASE_COLUMNS, *MODEL_COLUMNS],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_documented(kind: str) -> None:
    missing = [name for name in EXPECTED[kind] if name not in NAMES]
    assert not missing, f"docs/benchmarking.md does not mention {kind}(s): {missing}"


def test_schema_version_documented() -> None:
    assert SCHEMA in DOC
