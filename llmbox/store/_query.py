"""The read side of the store: filters, the types queries return, and the SQL behind them.

Imported on first use, so that saving a run (what ``bench`` does) loads none of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

from llmbox.errors import UsageError

#: The largest run ID either engine can hold (a signed 64-bit integer); a larger one names no run.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class RunFilter:
    """Which runs (and, for ``models``, which results) a query covers. Within one field the
    values are alternatives (OR); fields combine with AND. ``*`` and ``?`` are wildcards in
    ``models``, ``hosts`` and ``machines``. ``since``/``until`` are stored-form timestamps
    (see ``llmbox.store.parse_when``); ``until`` is exclusive."""

    models: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    tags: tuple[tuple[str, str | None], ...] = ()
    since: str | None = None
    until: str | None = None
    ids: tuple[int, ...] = ()


@dataclass
class RunInfo:
    """One stored benchmark run, as ``llmbox history`` lists it."""

    id: int
    started_at: str
    finished_at: str | None
    machine: str
    backend: str
    server_kind: str | None
    host: str | None
    server_version: str | None
    llmbox_version: str
    models: list[str]
    n_results: int
    failed_runs: int
    interrupted: bool
    source: str
    saved_at: str
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy made `history -f json` over 10,000 runs 3x slower.
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "machine": self.machine,
            "backend": self.backend,
            "server_kind": self.server_kind,
            "host": self.host,
            "server_version": self.server_version,
            "llmbox_version": self.llmbox_version,
            "models": list(self.models),
            "n_results": self.n_results,
            "failed_runs": self.failed_runs,
            "interrupted": self.interrupted,
            "source": self.source,
            "saved_at": self.saved_at,
            "tags": dict(self.tags),
        }


@dataclass
class Point:
    """One metric of one result (a model × case of a run): its summary statistics and, when
    asked for, the per-request values they summarise (successful requests only)."""

    run_id: int
    result_id: int
    started_at: str
    model: str
    case_label: str
    machine: str
    backend: str
    server_version: str | None
    host: str | None
    llmbox_version: str
    prompt_tokens: int | None
    max_tokens: int | None
    concurrency: int | None
    quantization: str | None
    metric: str
    stats: dict[str, float]
    samples: list[float] = field(default_factory=list)

    @property
    def series(self) -> tuple[str, str, str, str]:
        """(model, case, machine, backend): what the regression check follows over time."""
        return (self.model, self.case_label, self.machine, self.backend)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunStat(NamedTuple):
    """One metric of one result of a run, as change detection reads it: the series it belongs
    to and the count, mean and sd of its per-request values (None where not measured)."""

    run_id: int
    started_at: str
    model: str
    case_label: str
    machine: str
    backend: str
    server_version: str | None
    metric: str
    n: float | None
    mean: float | None
    sd: float | None

    @property
    def series(self) -> tuple[str, str, str, str]:
        """(model, case, machine, backend), as ``Point.series``."""
        return (self.model, self.case_label, self.machine, self.backend)


#: The ``history``/``report`` option behind each filter field, for messages.
_FLAGS = {
    "models": "--model", "cases": "--case", "hosts": "--host", "machines": "--machine",
    "backends": "--backend", "since": "--since", "until": "--until",
}  # fmt: skip


def unmatched(flt: RunFilter, count: Callable[[RunFilter], int]) -> str | None:
    """When ``flt`` matches no run: the one filter that alone matches none (a typo, most
    likely), as the user wrote it, e.g. ``--tag ci``; None if each matches some run alone.

    ``count`` is ``Store.count``; one query per filter given, only after an empty answer."""
    whole = RunFilter()
    for key, value in flt.tags:
        if count(replace(whole, tags=((key, value),))) == 0:
            return f"--tag {key}" + ("" if value is None else f"={value}")
    for name, flag in _FLAGS.items():
        given = getattr(flt, name)
        if given and count(replace(whole, **{name: given})) == 0:
            shown = given if isinstance(given, str) else " ".join(f"{flag} {v}" for v in given)
            return f"{flag} {shown}" if isinstance(given, str) else shown
    return None


def _glob(column: str, value: str) -> tuple[str, list[Any]]:
    if "*" in value or "?" in value:
        escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        pattern = escaped.replace("*", "%").replace("?", "_")
        return f"{column} LIKE ? ESCAPE '!'", [pattern]
    return f"{column} = ?", [value]


def _any_of(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    parts, params = [], []
    for value in values:
        sql, p = _glob(column, value)
        parts.append(sql)
        params += p
    return "(" + " OR ".join(parts) + ")", params


def _model_names(values: Sequence[str]) -> list[str]:
    """``llama3.2`` also matches ``llama3.2:latest`` and the other way round."""
    names: list[str] = []
    for v in values:
        names.append(v)
        if "*" not in v and "?" not in v:
            if v.endswith(":latest"):
                names.append(v.removesuffix(":latest"))
            elif ":" not in v.rsplit("/", 1)[-1]:
                names.append(f"{v}:latest")
    return names


def _host_names(values: Sequence[str]) -> list[str]:
    """A host as typed (``:11434``, ``localhost:11434``) also matches the URL a report keeps."""
    from llmbox.config import parse_host

    names: list[str] = []
    for v in values:
        names.append(v)
        if "*" not in v and "?" not in v:
            try:
                names.append(parse_host(v))
            except UsageError:
                pass
    return names


def _where(flt: RunFilter, *, results_alias: str | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause of ``flt`` over ``runs r`` (and, if given, the results alias)."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(sql: str, p: Sequence[Any]) -> None:
        clauses.append(sql)
        params.extend(p)

    if flt.ids:
        ids = [i for i in flt.ids if 0 < i <= MAX_ID] or [0]  # [0]: beyond any store, no row
        add(f"r.id IN ({', '.join('?' * len(ids))})", ids)
    if flt.since:
        add("r.started_at >= ?", [flt.since])
    if flt.until:
        add("r.started_at < ?", [flt.until])
    if flt.machines:
        add(*_any_of("r.machine", flt.machines))
    if flt.backends:
        add(*_any_of("r.backend", flt.backends))
    if flt.hosts:
        add(*_any_of("r.host", _host_names(flt.hosts)))
    # Uncorrelated IN (SELECT …) subqueries: evaluated once, through the tags and results
    # indexes (a correlated EXISTS made SQLite scan results per run: 12 s over 10,000 runs).
    for key, value in flt.tags:
        if value is None:
            add("r.id IN (SELECT t.run_id FROM tags t WHERE t.key = ?)", [key])
        else:
            add(
                "r.id IN (SELECT t.run_id FROM tags t WHERE t.key = ? AND t.value = ?)",
                [key, value],
            )
    result_parts: list[tuple[str, list[Any]]] = []
    if flt.models:
        result_parts.append(_any_of("{x}.model", _model_names(flt.models)))
    if flt.cases:
        result_parts.append(_any_of("{x}.case_label", flt.cases))
    if result_parts:
        if results_alias:
            for sql, p in result_parts:
                add(sql.replace("{x}", results_alias), p)
        else:
            inner = " AND ".join(sql.replace("{x}", "x") for sql, _ in result_parts)
            add(
                f"r.id IN (SELECT x.run_id FROM results x WHERE {inner})",
                [v for _, p in result_parts for v in p],
            )
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _metric_where(flt: RunFilter | None, metrics: Sequence[str] | None) -> tuple[str, list[Any]]:
    """``_where`` over runs, results (``res``) and summaries (``s``), limited to ``metrics``."""
    where, params = _where(flt or RunFilter(), results_alias="res")
    if metrics:
        cond = f"s.metric IN ({', '.join('?' * len(metrics))})"
        where = f"{where} AND {cond}" if where else f" WHERE {cond}"
        params = [*params, *metrics]
    return where, params


_RUN_COLUMNS = (
    "r.id, r.started_at, r.finished_at, r.machine, r.backend, r.server_kind, r.host, "
    "r.server_version, r.llmbox_version, r.models, r.n_results, r.failed_runs, r.interrupted, "
    "r.source, r.saved_at"
)


def _run_info(row: Sequence[Any]) -> RunInfo:
    return RunInfo(
        id=int(row[0]),
        started_at=row[1],
        finished_at=row[2],
        machine=row[3],
        backend=row[4],
        server_kind=row[5],
        host=row[6],
        server_version=row[7],
        llmbox_version=row[8],
        models=json.loads(row[9]),
        n_results=int(row[10]),
        failed_runs=int(row[11]),
        interrupted=bool(row[12]),
        source=row[13],
        saved_at=row[14],
    )
