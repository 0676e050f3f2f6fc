"""``llmbox bench compare BASE NEW``: two saved reports compared, with gates on NEW."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmbox.bench import gates
from llmbox.bench.compare import CompareRow, compare_reports, measured_pairs
from llmbox.errors import GateFailed, LlmboxError, UsageError
from llmbox.results import BenchReport, GateResult, pairs_text


@dataclass
class Comparison:
    base: BenchReport
    new: BenchReport
    rows: list[CompareRow]
    threshold_pct: float | None
    gates: list[GateResult] = field(default_factory=list)
    error: LlmboxError | None = None  # raised after the comparison is printed

    @property
    def regressions(self) -> int:
        return sum(r.regression for r in self.rows)


def compare_files(
    files: Sequence[Path],
    *,
    fail_under: Sequence[str] = (),
    fail_over: Sequence[str] = (),
    max_regression: str | None = None,
) -> Comparison:
    if len(files) != 2:
        raise UsageError(
            f"compare takes two result files, not {len(files)}",
            hint="llmbox bench compare base.json new.json",
        )
    under = [gates.parse_gate(s, "under") for s in fail_under]
    over = [gates.parse_gate(s, "over") for s in fail_over]
    threshold = gates.parse_regression(max_regression) if max_regression else None
    base, new = (BenchReport.load(Path(f)) for f in files)
    _check_overlap(files, base, new)
    rows = compare_reports(base, new, threshold=threshold)
    checked = gates.evaluate(new, fail_under=under, fail_over=over)
    result = Comparison(base, new, rows, None if threshold is None else threshold * 100, checked)
    failed = [g for g in checked if not g.passed]
    if failed:
        result.error = GateFailed(
            f"{len(failed)} gate(s) failed:\n" + gates.render_gate_failures(failed).rstrip(),
            hint="the gates apply to the NEW file",
        )
    elif result.regressions:
        result.error = GateFailed(
            f"{result.regressions} metric(s) regressed significantly beyond "
            f"{result.threshold_pct:g}%",
            hint="see the rows with status 'regression'",
        )
    return result


def _check_overlap(files: Sequence[Path], base: BenchReport, new: BenchReport) -> None:
    """Two reports with no (model, case) in common have nothing to compare: every row would be
    "new" or "missing", and exit 0 would read as "no change"."""
    base_pairs, new_pairs = measured_pairs(base), measured_pairs(new)
    if set(base_pairs) & set(new_pairs):
        return
    raise UsageError(
        f"{files[0]} and {files[1]} share no model and case: {files[0]} measured "
        f"{pairs_text(base_pairs)}; {files[1]} measured {pairs_text(new_pairs)}",
        hint="compare runs of the same models with the same --prompt-tokens/--max-tokens "
        "(the case labels must match)",
    )


__all__ = ["Comparison", "compare_files"]
