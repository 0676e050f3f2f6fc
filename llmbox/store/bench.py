"""The store as a benchmark's history: ``bench --db/--no-save/--tag`` and ``--baseline
last|best|ID|tag:K=V``. Implements ``llmbox.bench.session.History``, so the benchmark core never
imports the store (the CLI hands this in).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.bench.session import Saved
from llmbox.results import BenchReport

if TYPE_CHECKING:
    from llmbox.bench.plan import Plan


def _looks_like_file(spec: str) -> bool:
    return spec.endswith(".json") or "/" in spec or Path(spec).is_file()


class StoreHistory:
    """Save finished reports to the store at ``db`` (unless ``save`` is False) with ``tags``,
    and find baselines among its runs."""

    def __init__(self, db: str | None = None, *, save: bool = True, tags: Sequence[str] = ()):
        from llmbox.store import parse_tags

        self.db = db
        self.saving = save
        self.tags = parse_tags(tags)  # a bad spec is a usage error, before any run

    def check(self) -> None:
        """Open the store before the first request, so a wrong --db fails now."""
        if self.saving:
            from llmbox.store import open_store

            with open_store(self.db):
                pass

    def baseline(self, spec: str, plan: Plan) -> BenchReport:
        """A saved file, or a stored run: ``last`` (the latest earlier run of this machine and
        backend that shares a model and case), ``best``, a run ID or ``tag:KEY=VALUE``."""
        if _looks_like_file(spec):
            return BenchReport.load(Path(spec))
        from llmbox.machine import describe
        from llmbox.store import open_store, resolve_baseline

        like: dict[str, Any] = {
            "machine": describe(),
            "backend": plan.backend,
            "results": [{"model": m, "case": {"label": c.label}} for m, c in plan.grid],
        }
        with open_store(self.db, create=False) as store:
            return resolve_baseline(store, spec, like=like)

    def save(self, report: BenchReport) -> Saved | None:
        if not self.saving:
            return None
        from llmbox.store import open_store

        with open_store(self.db) as store:
            saved = store.save(report, tags=self.tags)
        return Saved(id=saved.id, where=saved.where)
