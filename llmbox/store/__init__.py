"""The results store: every benchmark remembered, in SQLite (default) or PostgreSQL (a team).

    from llmbox.store import open_store, RunFilter

    with open_store() as store:                       # --db URL > $LLMBOX_DB > user data dir
        saved = store.save(report, tags={"git": "abc123"})
        runs = store.runs(RunFilter(models=("llama3.2",)), limit=20)
        report = store.load(saved.id)                   # the typed report, as it was saved
        points = store.points(RunFilter(), ["decode_tps"], with_samples=True)

``find_regressions`` looks for change points in each series (``llmbox.store.regress``);
``resolve_baseline`` picks the run ``bench --baseline last|best|ID|tag:K=V`` compares with.
Nothing here imports typer or rich; psycopg is imported only for a ``postgresql://`` URL.
The tables are described in docs/history.md.
"""

from __future__ import annotations

from llmbox.store._baseline import find_baseline, resolve_baseline
from llmbox.store._report import parse_when
from llmbox.store._store import (
    Point,
    RunFilter,
    RunInfo,
    SavedRun,
    Store,
    open_store,
    parse_tag_filters,
    parse_tags,
)
from llmbox.store._url import DB_ENV, default_path, mask_password, resolve_url
from llmbox.store.regress import ChangePoint, find_regressions

__all__ = [
    "DB_ENV",
    "ChangePoint",
    "Point",
    "RunFilter",
    "RunInfo",
    "SavedRun",
    "Store",
    "default_path",
    "find_baseline",
    "find_regressions",
    "mask_password",
    "open_store",
    "parse_tag_filters",
    "parse_tags",
    "parse_when",
    "resolve_baseline",
    "resolve_url",
]
