"""Valid ``llmbox.bench/1`` reports with chosen speeds, for the store's tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from llmbox.bench.metrics import stats

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample(
    decode_tps: float,
    *,
    prefill_tps: float = 2000.0,
    ttft_s: float = 0.2,
    started: datetime = T0,
    error: str | None = None,
) -> dict[str, Any]:
    eval_count, prompt = 128, 512
    return {
        "prompt_eval_count": prompt,
        "prompt_eval_duration_ns": round(prompt / prefill_tps * 1e9),
        "cached_prompt_tokens": None,
        "eval_count": eval_count,
        "eval_duration_ns": round(eval_count / decode_tps * 1e9),
        "thinking_tokens": 0,
        "load_duration_ns": 1_000_000,
        "total_duration_ns": round((prompt / prefill_tps + eval_count / decode_tps) * 1e9),
        "ttft_s": ttft_s,
        "ttft_answer_s": ttft_s,
        "e2e_s": ttft_s + eval_count / decode_tps,
        "itl_mean_s": 1 / decode_tps,
        "itl_max_s": 2 / decode_tps,
        "done_reason": "length" if error is None else None,
        "status": None if error is None else 500,
        "error": error,
        "batch": 0,
        "counts_source": "server",
        "started_at": _stamp(started),
    }


def result(
    model: str,
    decode_tps: float,
    *,
    label: str = "pp512 tg128",
    n: int = 5,
    noise: float = 0.01,
    rng: random.Random | None = None,
    started: datetime = T0,
    concurrency: int = 1,
) -> dict[str, Any]:
    rng = rng or random.Random(f"{model}|{label}|{decode_tps}")
    runs = [
        sample(
            decode_tps * (1 + rng.gauss(0, noise)),
            prefill_tps=2000 * (1 + rng.gauss(0, noise)),
            ttft_s=0.2 * (1 + rng.gauss(0, noise)),
            started=started,
        )
        for _ in range(n)
    ]
    summary = {
        "prefill_tps": stats(512 / (r["prompt_eval_duration_ns"] / 1e9) for r in runs),
        "decode_tps": stats(128 / (r["eval_duration_ns"] / 1e9) for r in runs),
        "ttft_s": stats(r["ttft_s"] for r in runs),
        "e2e_s": stats(r["e2e_s"] for r in runs),
        "load_s": stats(r["load_duration_ns"] / 1e9 for r in runs),
        "itl_s": stats(r["itl_mean_s"] for r in runs),
    }
    return {
        "model": model,
        "model_info": {
            "name": model,
            "digest": "sha256:" + "ab" * 32,
            "parameter_size": "3.2B",
            "parameter_count": 3_212_749_888,
            "quantization": "Q4_K_M",
            "family": "llama",
            "size": 2_019_393_189,
            "size_vram": 2_019_393_189,
            "context_length": 131072,
            "capabilities": ["completion"],
            "processor": "100% GPU",
        },
        "case": {
            "label": label,
            "prompt_tokens": 512,
            "max_tokens": 128,
            "concurrency": concurrency,
            "think": None,
            "images": 0,
            "api": "chat",
            "num_ctx": None,
            "cold": False,
        },
        "runs": runs,
        "batches": [],
        "summary": summary,
        "warnings": [],
        "initial_load_s": 1.5,
        "failed_runs": 0,
    }


def report(
    results: list[dict[str, Any]] | None = None,
    *,
    started: datetime = T0,
    machine: str = "gpu-box",
    backend: str = "ollama",
    host: str = "http://127.0.0.1:11434",
    server_version: str = "0.12.3",
    decode_tps: float = 50.0,
    seed: int = 0,
) -> dict[str, Any]:
    """A report started at ``started``; by default one result of llama3.2 at ``decode_tps``."""
    rng = random.Random(seed)
    return {
        "schema": "llmbox.bench/1",
        "llmbox_version": "0.1.0",
        "backend": backend,
        "server": {"kind": backend, "host": host, "version": server_version},
        "machine": {
            "os": "Linux 6.8",
            "arch": "x86_64",
            "cpu": "AMD EPYC",
            "cpu_count": 2,
            "memory_bytes": 2**34,
            "python": "3.11.7",
            "hostname": machine,
        },
        "started_at": _stamp(started),
        "finished_at": _stamp(started + timedelta(seconds=30)),
        "interrupted": False,
        "options": {"runs": 5, "warmup": 1, "seed": 42},
        "results": results
        if results is not None
        else [result("llama3.2", decode_tps, rng=rng, started=started)],
        "gates": [],
    }


def series(
    decodes: list[float],
    *,
    start: datetime = T0,
    step: timedelta = timedelta(days=1),
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """One report a day, the i-th at ``decodes[i]`` tokens/s."""
    return [
        report(started=start + i * step, decode_tps=d, seed=i, **kwargs)
        for i, d in enumerate(decodes)
    ]
