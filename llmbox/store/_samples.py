"""Per-request metric values from stored sample rows, computed by the benchmark's own metric
functions (so a stored sample means exactly what it meant in the report)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from llmbox.bench import metrics
from llmbox.store._schema import SAMPLE_COLUMNS

if TYPE_CHECKING:
    from llmbox.results import RunSample

_ZERO_IF_NULL = frozenset(
    {"prompt_eval_count", "prompt_eval_duration_ns", "eval_count", "eval_duration_ns",
     "thinking_tokens", "load_duration_ns", "total_duration_ns", "batch"}
)  # fmt: skip


def _sample(row: Sequence[Any]) -> RunSample:
    """A stored sample row as what the metric functions read. Rows come from validated reports,
    and a regression check reads hundreds of thousands of them: a plain namespace with the same
    attributes costs ~1 µs where even ``RunSample.model_construct`` costs ~25 µs."""
    fields = dict(zip(SAMPLE_COLUMNS, row, strict=True))
    for key in _ZERO_IF_NULL:
        if fields[key] is None:
            fields[key] = 0
    return cast("RunSample", SimpleNamespace(**fields, ok=fields["error"] is None))


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
        "queue_s": run.queue_s,
    }


def metric_values(
    sample_rows: Sequence[Sequence[Any]],
    batch_rows: Sequence[Sequence[Any]],
    metrics: Collection[str] | None = None,
) -> dict[int, dict[str, list[float]]]:
    """``result_id -> metric -> values`` from ``samples`` rows (result_id first) and ``batches``
    rows (result_id, requests, wall_s, aggregate_tps). Throughput (``aggregate_tps``,
    ``requests_per_s``) is per concurrent batch, or per request when requests ran one at a time,
    as in ``metrics.summarize``. ``metrics`` limits the work to those (None: all)."""
    out: dict[int, dict[str, list[float]]] = {}
    wanted = None if metrics is None else set(metrics)
    per_run = wanted is None or bool(wanted - {"aggregate_tps", "requests_per_s"})
    for row in sample_rows if per_run or "requests_per_s" in (wanted or ()) else ():
        run = _sample(row[1:])
        if not run.ok:
            continue
        into = out.setdefault(int(row[0]), {})
        for metric, value in per_request(run).items():
            if value is not None and (wanted is None or metric in wanted):
                into.setdefault(metric, []).append(float(value))
        if run.e2e_s:
            into.setdefault("_sequential_rps", []).append(1 / run.e2e_s)
    concurrent: set[int] = set()
    for result_id, requests, wall_s, aggregate_tps in batch_rows:
        if requests and requests > 1 and wall_s and wall_s > 0:
            into = out.setdefault(int(result_id), {})
            into.setdefault("aggregate_tps", []).append(float(aggregate_tps))
            into.setdefault("requests_per_s", []).append(requests / wall_s)
            concurrent.add(int(result_id))
    for result_id, values in out.items():
        sequential = values.pop("_sequential_rps", [])
        if result_id not in concurrent:
            values["requests_per_s"] = sequential
    return out
