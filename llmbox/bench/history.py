"""Where a benchmark meets the results store: save the finished report, and find a baseline
among earlier runs (``--baseline last|best|ID|tag:K=V``, or a saved file).

The store is imported only here, and only when it is used: ``bench --no-save`` with a file
baseline never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.errors import LlmboxError
from llmbox.results import BenchReport

if TYPE_CHECKING:
    from llmbox.bench.plan import Plan
    from llmbox.store import SavedRun


@dataclass(frozen=True)
class HistoryOptions:
    """``--db``, ``--no-save``, ``--tag KEY=VALUE``."""

    db: str | None = None
    save: bool = False
    tags: Sequence[str] = ()
    parsed_tags: dict[str, str] = field(default_factory=dict)

    def checked(self) -> HistoryOptions:
        """The same options with the tags parsed (a bad spec is a usage error, before any run)."""
        if not self.tags:
            return self
        from llmbox.store import parse_tags

        return HistoryOptions(self.db, self.save, self.tags, parse_tags(self.tags))


def _looks_like_file(spec: str) -> bool:
    return spec.endswith(".json") or "/" in spec or Path(spec).is_file()


def load_baseline(spec: str, *, db: str | None, plan: Plan) -> BenchReport:
    """A saved file, or a stored run: ``last`` (the latest earlier run of this machine and backend
    that shares a model and case), ``best``, a run ID or ``tag:KEY=VALUE``."""
    if _looks_like_file(spec):
        return BenchReport.load(Path(spec))
    from llmbox.machine import describe
    from llmbox.store import open_store, resolve_baseline

    like: dict[str, Any] = {
        "machine": describe(),
        "backend": plan.backend,
        "results": [{"model": m, "case": {"label": c.label}} for m, c in plan.grid],
    }
    with open_store(db, create=False) as store:
        return resolve_baseline(store, spec, like=like)


def check_store(options: HistoryOptions) -> None:
    """Open the store before the first request, so a wrong --db fails now, not after the run."""
    if options.save:
        from llmbox.store import open_store

        with open_store(options.db):
            pass


def save(report: BenchReport, options: HistoryOptions) -> SavedRun | LlmboxError:
    """Store the report; a store that fails comes back as the error (the results are already
    printed and written, so the caller reports it and exits with its code)."""
    from llmbox.store import open_store

    try:
        with open_store(options.db) as store:
            return store.save(report, tags=options.parsed_tags)
    except LlmboxError as err:
        return err
