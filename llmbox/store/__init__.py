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
Names are loaded on first use, so saving a run loads only the write path. The tables are
described in docs/history.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbox.store._baseline import find_baseline, resolve_baseline
    from llmbox.store._query import Point, RunFilter, RunInfo
    from llmbox.store._report import check_backends, parse_tag_filters, parse_tags, parse_when
    from llmbox.store._store import SavedRun, Store, open_store
    from llmbox.store._url import DB_ENV, default_path, mask_password, resolve_url
    from llmbox.store.regress import ChangePoint, find_regressions

_WHERE = {
    "find_baseline": "_baseline",
    "resolve_baseline": "_baseline",
    "Point": "_query",
    "RunFilter": "_query",
    "RunInfo": "_query",
    "check_backends": "_report",
    "parse_tag_filters": "_report",
    "parse_tags": "_report",
    "parse_when": "_report",
    "SavedRun": "_store",
    "Store": "_store",
    "open_store": "_store",
    "DB_ENV": "_url",
    "default_path": "_url",
    "mask_password": "_url",
    "resolve_url": "_url",
    "ChangePoint": "regress",
    "find_regressions": "regress",
}

__all__ = [
    "DB_ENV",
    "ChangePoint",
    "Point",
    "RunFilter",
    "RunInfo",
    "SavedRun",
    "Store",
    "check_backends",
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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'llmbox.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"llmbox.store.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
