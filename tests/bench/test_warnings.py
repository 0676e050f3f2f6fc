from __future__ import annotations

from llmbox.bench.warnings import ADVICE, check
from llmbox.results import Case, CaseResult, ModelInfo, RunSample


def _result(
    runs: list[RunSample], *, info: ModelInfo | None = None, case: Case | None = None
) -> CaseResult:
    return CaseResult(
        model="m",
        case=case or Case(label="x", max_tokens=100),
        model_info=info or ModelInfo(name="m"),
        runs=runs,
    )


def _run(decode_tps: float = 50.0, **kw: object) -> RunSample:
    base: dict[str, object] = {"eval_count": 100, "eval_duration_ns": round(100 / decode_tps * 1e9)}
    base.update(kw)
    return RunSample(**base)  # type: ignore[arg-type]


def codes(result: CaseResult) -> set[str]:
    return {w.code for w in check(result)}


def test_clean_runs_have_no_warnings() -> None:
    assert codes(_result([_run() for _ in range(5)])) == set()


def test_short_reply_is_flagged() -> None:
    assert "short_reply" in codes(_result([_run(), _run(eval_count=12)]))


def test_cpu_spill_from_size_vram() -> None:
    info = ModelInfo(name="m", size=100, size_vram=93, processor="7%/93% CPU/GPU")
    (w,) = [w for w in check(_result([_run()], info=info)) if w.code == "cpu_spill"]
    assert "7%/93% CPU/GPU" in w.message
    assert codes(_result([_run()], info=ModelInfo(name="m", size=100, size_vram=100))) == set()


def test_slow_first_run_and_outliers() -> None:
    assert "slow_first_run" in codes(_result([_run(20), _run(50), _run(51), _run(49)]))
    assert "outliers" in codes(_result([_run(50), _run(50.5), _run(49.5), _run(50), _run(5)]))


def test_client_server_timing_mismatch() -> None:
    runs = [_run(e2e_s=3.0, total_duration_ns=1_000_000_000)]
    assert "timing_mismatch" in codes(_result(runs))
    assert "timing_mismatch" not in codes(
        _result([_run(e2e_s=1.01, total_duration_ns=1_000_000_000)])
    )


def test_cached_prompt_warns_only_when_most_of_the_prompt_was_cached() -> None:
    template_only = _run(prompt_eval_count=500, cached_prompt_tokens=25)
    mostly_cached = _run(prompt_eval_count=500, cached_prompt_tokens=450)
    assert "cached_prompt" not in codes(_result([template_only]))
    assert "cached_prompt" in codes(_result([mostly_cached]))


def test_failed_and_queued_runs_at_concurrency() -> None:
    case = Case(label="c4", max_tokens=100, concurrency=4)
    runs = [_run(load_duration_ns=2_000_000_000), RunSample(error="busy", status=503)]
    found = codes(_result(runs, case=case))
    assert {"failed_runs", "queued"} <= found


def test_every_warning_carries_advice() -> None:
    runs = [_run(20), _run(50), _run(51), _run(49), _run(eval_count=3), RunSample(error="x")]
    for w in check(_result(runs)):
        assert w.advice == ADVICE[w.code]
