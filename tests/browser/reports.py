"""Typed benchmark reports built in code for the report's tests: a grid of models × prompt lengths
× output lengths × concurrency levels, with deterministic jitter, on a named machine and day.

The expected chart sizes of ``history()`` (three days of the default grid) are spelled out in
``EXPECTED_POINTS`` from the grid, not read back from the code under test.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.bench.metrics import summarize
from llmbox.report.data import Regression
from llmbox.results import BatchStats, BenchReport, Case, CaseResult, ModelInfo, RunSample

if TYPE_CHECKING:
    from llmbox.report.charts import Document

#: (name, decode tok/s, prefill tok/s, parameter size): two catalog models at CPU-like speeds.
MODELS = (("llama3.2:3b", 28.0, 180.0, "3.2B"), ("qwen3:4b", 21.0, 130.0, "4.0B"))
PROMPTS = (128, 512)
OUTPUTS = (32, 128)
LEVELS = (1, 4)
RUNS = 5
DAY0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
NS = 1_000_000_000

CASES = len(PROMPTS) * len(OUTPUTS) * len(LEVELS)
SOLO_CASES = len(PROMPTS) * len(OUTPUTS)
DAYS = 3
M = len(MODELS)

#: Data marks each chart of ``history()`` draws (with the one regression of ``REGRESSIONS``).
EXPECTED_POINTS = {
    "speed-vs-prompt": M * len(PROMPTS) * 2,  # series × x × (decode, prefill)
    "speed-vs-output": M * len(OUTPUTS) * 2,
    "concurrency": M * len(LEVELS) * 3,  # throughput + TTFT p50 + TTFT p99
    "models": M * CASES * 2,
    "trend": M * CASES * DAYS + 1,  # one point per day per series and case, + the regression
    "ceiling": M * SOLO_CASES * 2 * 2,  # (decode, prefill) × (measured, predicted)
}


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _info(name: str, size: str) -> ModelInfo:
    return ModelInfo(
        name=name,
        digest=hashlib.sha256(name.encode()).hexdigest(),
        parameter_size=size,
        quantization="Q4_K_M",
        family=name.split(":", maxsplit=1)[0],
        size=2_000_000_000,
        context_length=4096,
        capabilities=["completion"],
        processor="100% CPU",
    )


def _sample(
    rng: random.Random, decode: float, prefill: float, prompt: int, output: int, at: datetime
) -> RunSample:
    d = decode * rng.uniform(0.95, 1.05) * (1 - prompt / 20_000)
    p = prefill * rng.uniform(0.95, 1.05)
    prefill_ns, decode_ns = int(prompt / p * NS), int(output / d * NS)
    ttft = prefill_ns / NS + rng.uniform(0.01, 0.03)
    return RunSample(
        prompt_eval_count=prompt,
        prompt_eval_duration_ns=prefill_ns,
        eval_count=output,
        eval_duration_ns=decode_ns,
        load_duration_ns=2_000_000,
        total_duration_ns=prefill_ns + decode_ns + 5_000_000,
        ttft_s=ttft,
        ttft_answer_s=ttft,
        e2e_s=ttft + decode_ns / NS,
        itl_mean_s=1 / d * rng.uniform(0.97, 1.03),
        itl_max_s=1.5 / d,
        done_reason="length",
        started_at=_iso(at),
    )


def bench_report(
    *,
    day: int = 0,
    hostname: str = "box-a",
    slow: float = 1.0,
    seed: int = 0,
    models: tuple[tuple[str, float, float, str], ...] = MODELS,
) -> dict[str, Any]:
    """One ``llmbox bench`` JSON document (as ``-f json`` writes it) of the default grid;
    ``slow`` divides every speed (a deliberately slowed run)."""
    rng = random.Random(seed * 1000 + day)
    start = DAY0 + timedelta(days=day)
    report = BenchReport(
        llmbox_version="0.1.0",
        backend="ollama",
        server={"kind": "ollama", "host": "http://127.0.0.1:11434", "version": "0.13.0"},
        machine={
            "os": "Linux 6.1",
            "arch": "x86_64",
            "cpu": "Test CPU 16-Core",
            "cpu_count": 16,
            "memory_bytes": 64 * 2**30,
            "python": "3.11.7",
            "hostname": hostname,
        },
        started_at=_iso(start),
        options={"runs": RUNS},
        finished_at=_iso(start + timedelta(minutes=30)),
    )
    for name, decode, prefill, size in models:
        for prompt in PROMPTS:
            for output in OUTPUTS:
                for level in LEVELS:
                    label = f"pp{prompt} tg{output}" + (f" c{level}" if level > 1 else "")
                    case = Case(
                        label=label, prompt_tokens=prompt, max_tokens=output, concurrency=level
                    )
                    result = CaseResult(model=name, case=case, model_info=_info(name, size))
                    share = 1.0 if level == 1 else 0.8  # concurrent requests share the chip
                    for b in range(RUNS if level == 1 else 2):
                        samples = [
                            _sample(rng, decode / slow * share, prefill / slow, prompt, output,
                                    start + timedelta(seconds=10 * b))
                            for _ in range(level)
                        ]  # fmt: skip
                        for s in samples:
                            s.batch = b
                        result.runs += samples
                        if level > 1:
                            wall = max(s.e2e_s or 0 for s in samples) + 0.05
                            result.batches.append(BatchStats.of(b, level, 0, wall, output * level))
                    result.summary = summarize(result.runs, result.batches)
                    report.results.append(result)
    return report.to_json_dict()


def typed(data: dict[str, Any]) -> BenchReport:
    return BenchReport.parse(data)


def history() -> list[BenchReport]:
    """Three daily runs of the grid on one machine; on the last day llama3.2:3b got 30 % slower."""
    out = []
    for day in range(DAYS):
        data = bench_report(day=day)
        if day == DAYS - 1:
            slowed = bench_report(day=day, slow=1.3, models=MODELS[:1])
            data["results"] = slowed["results"] + data["results"][CASES:]
        out.append(typed(data))
    return out


#: The regression a results store would report for ``history()``.
REGRESSIONS = (
    Regression(
        model="llama3.2:3b",
        case="pp128 tg32",
        machine="box-a",
        backend="ollama",
        metric="decode_tps",
        at=DAY0 + timedelta(days=DAYS - 1),
        change_pct=-23.1,
    ),
)


def shared_vega_cache(base: Path) -> Path:
    """One cache directory for the whole test session (``tmp_path_factory.getbasetemp()``), so
    vl-convert builds the ~0.9 MB JavaScript bundle once, not once per test."""
    return base / "xdg-cache"


def write_page(document: Document, tmp_path_factory: Any, name: str) -> Path:
    """``document`` rendered to ``<a new temp dir>/<name>``, the HTML page ``llmbox report``
    writes, with the session's shared Vega bundle."""
    import pytest

    from llmbox.report.html import js_bundle, render_html

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(shared_vega_cache(tmp_path_factory.getbasetemp())))
        bundle = js_bundle()
    path: Path = tmp_path_factory.mktemp(Path(name).stem) / name
    path.write_text(render_html(document, bundle), encoding="utf-8")
    return path


#: A fleet of three stations with the same chip (catalog: board power and launch price), two
#: `fleet bench` runs a day apart; on the second, st-2 ran at 60 % of its peers' speed.
FLEET_HOSTS = ("st-0", "st-1", "st-2")
FLEET_CHIP = "m4-10c"
FLEET_DAYS = 2
#: st-0 measured its power (bench --power) while running qwen3:4b: this many watts.
MEASURED_WATTS = 30.0


def fleet_history() -> list[BenchReport]:
    """Each host's report of each fleet run, as `fleet bench` saves them."""
    from llmbox.results import Power

    out = []
    for day in range(FLEET_DAYS):
        for i, host in enumerate(FLEET_HOSTS):
            slow = 1 / 0.6 if host == "st-2" and day == FLEET_DAYS - 1 else 1.0
            report = typed(bench_report(day=day, hostname=host, slow=slow, seed=i + 1))
            report.machine = {"hostname": host, "fleet_host": host, "chip": FLEET_CHIP,
                              "memory_bytes": 16 * 2**30, "power": "ac",
                              "coordinator": "ci-runner"}  # fmt: skip
            for r in report.results:
                if host == "st-0" and r.model == "qwen3:4b":
                    seconds = sum(s.total_duration_ns for s in r.runs) / NS
                    r.power = Power(source="rapl", scope="package", watts=MEASURED_WATTS,
                                    joules=MEASURED_WATTS * seconds, seconds=seconds,
                                    samples=int(seconds * 10) + 1)  # fmt: skip
            out.append(report)
    return out
