"""A hand-made, deterministic benchmark report for exporter, gate and comparison tests.

Two models × two cases: ``qwen3:4b`` thinks (thinking tokens) and once reuses cached prompt
tokens; ``llama3.1:8b`` is partly on the CPU; ``pp512 tg128 c4`` runs 4 concurrent requests in
two batches, and one of llama's requests fails with HTTP 503. Built through the real dataclasses
and ``summarize``, so the dict is what ``BenchReport.to_dict()`` produces; the warnings are
written out here so that rewording advice in ``llmbox.bench.warnings`` does not move the goldens.
"""

from __future__ import annotations

from llmbox.bench.metrics import summarize
from llmbox.results import (
    BatchStats,
    BenchReport,
    BenchWarning,
    Case,
    CaseResult,
    ModelInfo,
    Options,
    RunSample,
    Server,
)

MS = 1_000_000

SOLO = Case(label="pp512 tg128", prompt_tokens=512, max_tokens=128)
CONC = Case(label="pp512 tg128 c4", prompt_tokens=512, max_tokens=128, concurrency=4)

QWEN = ModelInfo(
    name="qwen3:4b",
    digest="e55aed6fe643d9368b2f48f8aaa56ec787b75765da69f794c0a0c23bfe7c64b2",
    parameter_size="4.0B",
    parameter_count=4_022_468_096,
    quantization="Q4_K_M",
    family="qwen3",
    size=3_500_000_000,
    size_vram=3_500_000_000,
    context_length=4096,
    capabilities=["completion", "thinking"],
    processor="100% GPU",
)
LLAMA = ModelInfo(
    name="llama3.1:8b",
    digest="46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e",
    parameter_size="8.0B",
    parameter_count=8_030_261_248,
    quantization="Q4_K_M",
    family="llama",
    size=6_200_000_000,
    size_vram=5_456_000_000,
    context_length=4096,
    capabilities=["completion", "tools"],
    processor="12%/88% CPU/GPU",
)


def run(
    prefill_ms: float,
    decode_ms: float,
    *,
    prompt: int = 520,
    tokens: int = 128,
    thinking: int = 0,
    cached: int | None = None,
    load_ms: float = 5,
    ttft: float = 0.45,
    e2e: float | None = None,
    batch: int = 0,
    at: str = "2026-01-02T03:04:05Z",
) -> RunSample:
    total_ns = int((load_ms + prefill_ms + decode_ms + 10) * MS)
    return RunSample(
        prompt_eval_count=prompt,
        prompt_eval_duration_ns=int(prefill_ms * MS),
        cached_prompt_tokens=cached,
        eval_count=tokens,
        eval_duration_ns=int(decode_ms * MS),
        thinking_tokens=thinking,
        load_duration_ns=int(load_ms * MS),
        total_duration_ns=total_ns,
        ttft_s=ttft,
        ttft_answer_s=ttft + 0.6 if thinking else ttft,
        e2e_s=e2e if e2e is not None else total_ns / 1e9 + 0.002,
        itl_mean_s=decode_ms / 1000 / tokens,
        itl_max_s=decode_ms / 1000 / tokens * 3,
        done_reason="length",
        batch=batch,
        started_at=at,
    )


def failed(batch: int) -> RunSample:
    return RunSample(
        status=503, error="HTTP 503: server busy", batch=batch, started_at="2026-01-02T03:05:00Z"
    )


SPILL = BenchWarning(
    code="cpu_spill",
    message="llama3.1:8b is split 12%/88% CPU/GPU (size_vram < size)",
    advice="part of the model runs on the CPU: use a smaller quantization or --num-ctx",
)
CACHED = BenchWarning(
    code="cached_prompt",
    message="the server reused up to 32 cached prompt tokens",
    advice="prefill excludes the cached tokens",
)
FAILED = BenchWarning(
    code="failed_runs", message="1 of 8 runs failed", advice="see each run's error"
)
QUEUED = BenchWarning(
    code="queued",
    message="1 requests were refused with HTTP 503 (queue full)",
    advice="raise OLLAMA_NUM_PARALLEL or lower --concurrency",
)


def result(
    info: ModelInfo,
    case: Case,
    runs: list[RunSample],
    batches: list[BatchStats] | None = None,
    warnings: list[BenchWarning] | None = None,
) -> CaseResult:
    r = CaseResult(model=info.name, case=case, model_info=info, runs=runs, batches=batches or [])
    r.summary = summarize(r.runs, r.batches)
    r.warnings = warnings or []
    r.failed_runs = r.failed
    r.initial_load_s = 1.25
    return r


def sample_report_obj() -> BenchReport:
    qwen_solo = [
        run(400, 2000, thinking=40, ttft=0.44),
        run(410, 2100, thinking=42, ttft=0.46, cached=32),
        run(390, 1950, thinking=38, ttft=0.45),
    ]
    qwen_conc = [
        run(900 + 10 * i, 5000 + 100 * i, thinking=40, ttft=1.0 + 0.1 * i, batch=i // 4)
        for i in range(8)
    ]
    llama_solo = [
        run(800, 4000, ttft=0.85),
        run(820, 4200, ttft=0.88),
        run(790, 3900, ttft=0.84),
    ]
    llama_conc = [
        run(1600 + 20 * i, 9000 + 150 * i, ttft=1.8 + 0.1 * i, batch=i // 4) for i in range(7)
    ]
    llama_conc.append(failed(1))
    report = BenchReport(
        llmbox_version="0.1.0",
        backend="ollama",
        server=Server(kind="ollama", host="http://127.0.0.1:11434", version="0.12.3"),
        machine={
            "os": "Linux 6.8.0",
            "arch": "x86_64",
            "cpu": "AMD Ryzen 9 7950X 16-Core Processor",
            "cpu_count": 32,
            "memory_bytes": 68_719_476_736,
            "python": "3.11.9",
            "hostname": "bench-box",
            "gpus": [{"name": "NVIDIA GeForce RTX 4070", "memory_mib": 12282, "driver": "550.54"}],
        },
        started_at="2026-01-02T03:04:00Z",
        options=Options(models=["qwen3:4b", "llama3.1:8b"], runs=3, warmup=1, seed=42,
                        nonce="0a1b2c"),
        finished_at="2026-01-02T03:06:00Z",
    )  # fmt: skip
    report.results = [
        result(QWEN, SOLO, qwen_solo, warnings=[CACHED]),
        result(
            QWEN,
            CONC,
            qwen_conc,
            [BatchStats.of(0, 4, 0, 5.6, 512), BatchStats.of(1, 4, 0, 6.0, 512)],
        ),
        result(LLAMA, SOLO, llama_solo, warnings=[SPILL]),
        result(
            LLAMA,
            CONC,
            llama_conc,
            [BatchStats.of(0, 4, 0, 10.0, 512), BatchStats.of(1, 4, 1, 10.5, 384)],
            warnings=[FAILED, SPILL, QUEUED],
        ),
    ]
    return report


def sample_report() -> BenchReport:
    return sample_report_obj()
