"""Where a report's runs come from: saved ``llmbox bench -f json`` files (or directories of them),
or the results store (``llmbox.store``, imported only when asked)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from llmbox.errors import UsageError
from llmbox.report.data import Regression, parse_time
from llmbox.results import BenchReport


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the ``*.json`` files in it (sorted). A file named
    twice (or also found in a directory given) counts once."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise UsageError(
                    f"{path} holds no .json files",
                    hint="give files written by llmbox bench -f json (or --output json:PATH)",
                )
            out += found
        else:
            out.append(path)
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def load_files(paths: Iterable[Path]) -> list[BenchReport]:
    """Each file read and checked against the ``llmbox.bench/1`` schema; the first bad one raises
    a UsageError naming it (and the field)."""
    return [BenchReport.load(p) for p in expand(paths)]


@dataclass(frozen=True)
class StoreQuery:
    """Which stored runs a report covers (``llmbox report`` without files): the same filters as
    ``llmbox history``. Within one field values are alternatives; fields combine with AND."""

    db: str | None = None
    models: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    @property
    def filtered(self) -> bool:
        return any((self.models, self.cases, self.machines, self.backends, self.tags,
                    self.since, self.until))  # fmt: skip


def load_store(
    query: StoreQuery, *, skip: Callable[[UsageError], None] | None = None
) -> tuple[list[BenchReport], list[Regression]]:
    """The matching runs of the results store, oldest first, and the regressions its change-point
    test finds in their decode speed (``llmbox history regressions``).

    A stored run this llmbox cannot read (one a newer llmbox saved into a shared store) is an
    error, or, given ``skip``, handed to it and left out."""
    from llmbox.store import (
        RunFilter,
        check_backends,
        find_regressions,
        open_store,
        parse_tag_filters,
    )
    from llmbox.store._report import parse_window

    since, until = parse_window(query.since, query.until)
    flt = RunFilter(
        models=query.models,
        cases=query.cases,
        machines=query.machines,
        backends=check_backends(query.backends),
        tags=parse_tag_filters(list(query.tags)),
        since=since,
        until=until,
    )
    from llmbox.store._url import check_named_file

    check_named_file(query.db)
    with open_store(query.db, create=False) as store:
        reports = []
        skipped: list[UsageError] = []
        for info, data in store.reports(flt):
            try:
                reports.append(BenchReport.parse(data, f"run {info.id}"))
            except UsageError as err:
                if skip is None:
                    raise
                skip(err)
                skipped.append(err)
        if not reports and skipped:  # every run was skipped: "no runs" would be untrue
            raise skipped[0]
        if not reports:
            from llmbox.store._query import unmatched

            what = "match these filters" if query.filtered else "are stored yet"
            culprit = unmatched(flt, store.count) if query.filtered else None
            raise UsageError(
                f"no runs {what} in {store.where}"
                + (f": {culprit} matches none of them" if culprit else ""),
                hint="llmbox history lists the stored runs, llmbox bench MODEL saves one; or give "
                "saved runs: llmbox report run1.json run2.json -o r.html",
            )
        changes = find_regressions(store, flt, metrics=("decode_tps",))
    regressions = [
        Regression(c.model, c.case, c.machine, c.backend, c.metric, when, c.change_pct)
        for c in changes
        if c.kind == "regression" and (when := parse_time(c.at)) is not None
    ]
    return reports, regressions
