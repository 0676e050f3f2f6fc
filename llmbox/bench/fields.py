"""The names in a result's ``summary`` block: metrics, their units, and the statistics kept.

One place for the vocabulary that exporters, gates and comparisons share, so a CSV column, a
``--fail-under`` spec and a comparison row all mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbox.bench.metrics import HIGHER_IS_BETTER


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # short column heading
    unit: str  # "tok/s" or "s"
    description: str

    @property
    def higher_is_better(self) -> bool:
        return self.name in HIGHER_IS_BETTER

    @property
    def is_time(self) -> bool:
        return self.unit == "s"


_ALL = (
    Metric("prefill_tps", "prefill t/s", "tok/s", "prompt tokens evaluated per second"),
    Metric("decode_tps", "decode t/s", "tok/s", "generated tokens (thinking included) per second"),
    Metric("answer_tps", "answer t/s", "tok/s", "answer tokens (thinking excluded) per second"),
    Metric("ttft_s", "TTFT", "s", "time to the first streamed token of any kind"),
    Metric("ttft_answer_s", "TTFT answer", "s", "time to the first answer token"),
    Metric("e2e_s", "e2e", "s", "request sent to last byte received"),
    Metric("itl_s", "ITL", "s", "mean gap between token arrivals"),
    Metric("load_s", "load", "s", "the server's load_duration"),
    Metric("aggregate_tps", "aggregate t/s", "tok/s", "output tokens of a batch / its wall time"),
    Metric("requests_per_s", "req/s", "req/s", "requests completed per second"),
    Metric("queue_s", "queue", "s", "time waited for a free slot before the server began"),
    Metric("sched_delay_s", "sched delay", "s", "open loop: actual send − scheduled arrival"),
    Metric("slo_pass", "SLO met", "share", "share of requests that met every --slo limit"),
    Metric("goodput", "goodput", "req/s", "requests that met every --slo limit, per second"),
    Metric("pass_rate", "pass", "share", "share of checked answers that passed (failed: wrong)"),
    Metric("thinking_share", "thinking", "share", "thinking tokens / all generated tokens"),
)

#: Every summary metric, in the documented order (CSV columns follow it).
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}

#: Statistics a summary entry may hold; p90 needs 10 samples, p99 needs 100.
STATS = ("mean", "sd", "median", "min", "max", "p50", "p90", "p99")

#: Statistics exported per metric in CSV.
CSV_STATS = ("mean", "sd", "median", "min", "max")

#: Minimum number of samples a percentile needs (see ``llmbox.bench.metrics.stats``).
PERCENTILE_MIN_SAMPLES = {"p90": 10, "p99": 100}


def fmt_value(metric: str, value: float) -> str:
    """A value with its unit: tokens/s to 1 decimal, times in ms below a second.

    >>> fmt_value("decode_tps", 41.26), fmt_value("ttft_s", 0.1234), fmt_value("e2e_s", 3.2)
    ('41.3 tok/s', '123.4 ms', '3.200 s')
    """
    spec = METRICS.get(metric)
    if spec is None:
        return f"{value:.4g}"
    if spec.unit == "req/s":
        return f"{value:.2f} req/s"
    if spec.unit == "share":
        return f"{value:.1%}"
    if not spec.is_time:
        return f"{value:.1f} tok/s"
    if abs(value) < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s"
