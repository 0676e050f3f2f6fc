"""Per-request metric values from stored sample rows, computed by the benchmark's own metric
functions (so a stored sample means exactly what it meant in the report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbox.bench import metrics
from llmbox.bench.types import RunSample
from llmbox.store._schema import SAMPLE_COLUMNS


def _sample(row: Sequence[Any]) -> RunSample:
    fields = dict(zip(SAMPLE_COLUMNS, row, strict=True))
    return RunSample(**{k: v for k, v in fields.items() if v is not None or k in _NULLABLE})


_NULLABLE = frozenset(
    {"cached_prompt_tokens", "ttft_s", "ttft_answer_s", "e2e_s", "itl_mean_s", "itl_max_s",
     "done_reason", "status", "error"}
)  # fmt: skip


def per_request(run: RunSample) -> dict[str, float | None]:
    """Each summary metric's value for one successful request (as ``metrics.summarize`` counts
    it); None where the request does not have it."""
    return {
        "prefill_tps": metrics.prefill_tps(run),
        "decode_tps": metrics.decode_tps(run),
        "answer_tps": metrics.answer_tps(run),
        "ttft_s": run.ttft_s,
        "ttft_answer_s": run.ttft_answer_s,
        "e2e_s": run.e2e_s,
        "load_s": metrics.load_s(run),
        "itl_s": run.itl_mean_s,
    }


def metric_values(
    sample_rows: Sequence[Sequence[Any]], batch_rows: Sequence[Sequence[Any]]
) -> dict[int, dict[str, list[float]]]:
    """``result_id -> metric -> values`` from ``samples`` rows (result_id first) and ``batches``
    rows (result_id, requests, wall_s, aggregate_tps)."""
    out: dict[int, dict[str, list[float]]] = {}
    for row in sample_rows:
        run = _sample(row[1:])
        if not run.ok:
            continue
        into = out.setdefault(int(row[0]), {})
        for metric, value in per_request(run).items():
            if value is not None:
                into.setdefault(metric, []).append(float(value))
    for result_id, requests, wall_s, aggregate_tps in batch_rows:
        if requests and requests > 1 and wall_s and wall_s > 0:
            out.setdefault(int(result_id), {}).setdefault("aggregate_tps", []).append(
                float(aggregate_tps)
            )
    return out
