"""Report: `llmbox report` over 10,000 stored runs — time to a written page, and the page's size.

    python benchmarks/report.py [--quick] [--json]

10,000 benchmark runs (4 models x 3 machines, hourly, each a single-request and a 4-way case with
their per-request samples) are validated into typed reports, as reading them back from the store
or from saved files does; then the charts are built and the HTML page rendered, exactly as the
command does. The figure is the whole of it (validate + build + render + write); the parts are in
the note. The JavaScript bundle is built beforehand (the command caches it per version; its
one-time cost is a figure of its own).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import Figure, log, main

BUDGET_S = 10.0
MODELS = (("llama3.2:3b", 28.0, 180.0, "3.2B"), ("qwen3:4b", 21.0, 130.0, "4.0B"),
          ("gemma3:4b", 24.0, 150.0, "4.3B"), ("llama3.1:8b", 12.0, 80.0, "8.0B"))  # fmt: skip
MACHINES = ("box-a", "box-b", "ci-runner")
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _run(
    i: int, prompt: int, output: int, decode: float, prefill: float, at: str
) -> dict[str, Any]:
    d = decode * (1 + (i % 7 - 3) / 100)
    p_ns, d_ns = int(prompt / prefill * 1e9), int(output / d * 1e9)
    ttft = p_ns / 1e9 + 0.02
    return {
        "prompt_eval_count": prompt, "prompt_eval_duration_ns": p_ns,
        "cached_prompt_tokens": None, "eval_count": output, "eval_duration_ns": d_ns,
        "thinking_tokens": 0, "load_duration_ns": 1_000_000,
        "total_duration_ns": p_ns + d_ns + 2_000_000, "ttft_s": ttft, "ttft_answer_s": ttft,
        "e2e_s": ttft + d_ns / 1e9, "itl_mean_s": 1 / d, "itl_max_s": 1.5 / d,
        "done_reason": "length", "status": None, "error": None, "batch": 0,
        "counts_source": "server", "started_at": at,
    }  # fmt: skip


def _stat(xs: list[float]) -> dict[str, float]:
    from llmbox.bench.metrics import stats

    return stats(xs)


def _result(model: tuple[str, float, float, str], level: int, i: int, at: str) -> dict[str, Any]:
    name, decode, prefill, size = model
    runs = [_run(i + k, 512, 128, decode / (1 if level == 1 else 1.25), prefill, at)
            for k in range(3 if level == 1 else 4)]  # fmt: skip
    wall = max(r["e2e_s"] for r in runs)
    batches = (
        [{"batch": 0, "requests": level, "failed": 0, "wall_s": wall, "output_tokens": 128 * level,
          "aggregate_tps": 128 * level / wall}] if level > 1 else []
    )  # fmt: skip
    summary = {
        "decode_tps": _stat([r["eval_count"] / r["eval_duration_ns"] * 1e9 for r in runs]),
        "prefill_tps": _stat([r["prompt_eval_count"] / r["prompt_eval_duration_ns"] * 1e9
                              for r in runs]),
        "ttft_s": _stat([r["ttft_s"] for r in runs]),
        "itl_s": _stat([r["itl_mean_s"] for r in runs]),
    }  # fmt: skip
    if batches:
        summary["aggregate_tps"] = _stat([b["aggregate_tps"] for b in batches])
    return {
        "model": name,
        "model_info": {"name": name, "digest": "0" * 64, "parameter_size": size,
                       "parameter_count": None, "quantization": "Q4_K_M", "family": "",
                       "size": 0, "size_vram": None, "context_length": 4096,
                       "capabilities": [], "processor": "100% CPU"},
        "case": {"label": "pp512 tg128" + (f" c{level}" if level > 1 else ""),
                 "prompt_tokens": 512, "max_tokens": 128, "concurrency": level, "think": None,
                 "images": 0, "api": "chat", "num_ctx": None, "cold": False},
        "runs": runs, "batches": batches, "summary": summary, "warnings": [],
        "initial_load_s": None, "failed_runs": 0,
    }  # fmt: skip


def stored_runs(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        at = (T0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        model, machine = MODELS[i % len(MODELS)], MACHINES[(i // len(MODELS)) % len(MACHINES)]
        out.append({
            "schema": "llmbox.bench/1", "llmbox_version": "0.1.0", "backend": "ollama",
            "server": {"kind": "ollama", "host": "http://127.0.0.1:11434", "version": "0.13.0"},
            "machine": {"os": "Linux", "arch": "x86_64", "cpu": "Bench CPU", "cpu_count": 16,
                        "memory_bytes": 64 * 2**30, "hostname": machine},
            "started_at": at, "finished_at": at, "interrupted": False, "options": {},
            "results": [_result(model, 1, i, at), _result(model, 4, i, at)], "gates": [],
        })  # fmt: skip
    return out


def measure(quick: bool) -> list[Figure]:
    import os

    n = 200 if quick else 10_000
    raw = stored_runs(n)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp
        c0, t0 = time.process_time(), time.perf_counter()
        from llmbox.hw.chips import load_catalog
        from llmbox.hw.models import load_models
        from llmbox.report.charts import build
        from llmbox.report.html import js_bundle, render_html
        from llmbox.report.static import save_text
        from llmbox.results import BenchReport

        c_import, t_import = time.process_time(), time.perf_counter()
        js_bundle()  # the one-time build, outside the figure: the command caches it
        bundle_s = time.perf_counter() - t_import
        c1, t1 = time.process_time(), time.perf_counter()
        reports = [BenchReport.parse(r) for r in raw]
        t2 = time.perf_counter()
        doc = build(reports, load_catalog(), load_models())
        t3 = time.perf_counter()
        page = render_html(doc, js_bundle())
        save_text(Path(tmp) / "r.html", page)
        c4, t4 = time.process_time(), time.perf_counter()
    import_s = t_import - t0
    total = import_s + t4 - t1
    cpu = (c_import - c0) + (c4 - c1)
    size = len(page.encode())
    data_bytes = size - len(js_bundle_size_hint(page))
    log(
        f"report: {n:,} runs: import {import_s:.2f} s, validate {t2 - t1:.2f} s, build "
        f"{t3 - t2:.2f} s, render+write {t4 - t3:.2f} s (CPU {cpu:.2f} s); page {size / 1e6:.2f} MB"
    )
    return [
        Figure(
            "Report",
            f"llmbox report over {n:,} stored runs (validate, chart, write)",
            total,
            "s",
            f"≤ {BUDGET_S:g} s",
            total <= BUDGET_S,
            f"import {import_s:.2f} s + validate {t2 - t1:.2f} s + charts {t3 - t2:.2f} s + "
            f"HTML {t4 - t3:.2f} s; CPU {cpu:.2f} s (wall includes other load on the machine); "
            f"{len(doc.charts)} charts",
        ),
        Figure(
            "Report",
            f"HTML page size over {n:,} runs",
            size / 1e6,
            "MB",
            "",
            None,
            f"{data_bytes / 1e3:.0f} kB of chart data and text; the rest is the Vega JavaScript, "
            "inlined once",
        ),
        Figure(
            "Report",
            "first report on a machine: building the Vega JavaScript bundle",
            bundle_s,
            "s",
            "",
            None,
            "vl-convert bundles vega + vega-lite + vega-embed once; cached per version after",
        ),
    ]


def js_bundle_size_hint(page: str) -> str:
    """The inlined bundle: the longest script of the page."""
    import re

    return max(re.findall(r"<script>(.*?)</script>", page, flags=re.S), key=len)


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))
