"""The results store: save a report, list and filter runs, read reports back, query series;
and what a stored run looks like (its JSON dict, its machine key, its timestamps, its tags).

Reports come in as the typed model or as the ``llmbox.bench/1`` JSON dict; the store keeps the
dict (the full JSON, so fields added later are not lost) and indexes a few facts from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from llmbox.errors import StoreError, UsageError
from llmbox.store import _schema
from llmbox.store._engine import Engine, SqliteEngine
from llmbox.store._schema import CASE_COLUMNS, SAMPLE_COLUMNS, STAT_COLUMNS
from llmbox.store._url import from_env, from_env_only, parse_url, resolve_url

if TYPE_CHECKING:
    from llmbox.results import BenchReport
    from llmbox.store._query import Point, RunFilter, RunInfo, RunStat

_NOT_FOUND_HINT = "`llmbox history` lists the stored runs and their IDs"


def as_dict(report: BenchReport | Mapping[str, Any]) -> dict[str, Any]:
    """The report's ``llmbox.bench/1`` JSON dict."""
    # (not isinstance(report, Mapping): a bench's save would pay ~0.1 ms for that ABC's check)
    to_json = getattr(report, "to_json_dict", None)
    if to_json is not None:
        return cast("dict[str, Any]", to_json())
    return dict(cast("Mapping[str, Any]", report))


def machine_key(machine: Mapping[str, Any]) -> str:
    """The name a machine's series are grouped by: its ``name`` (if a report carries one), its
    hostname, else its CPU.

    >>> machine_key({"hostname": "gpu-box", "cpu": "AMD EPYC"})
    'gpu-box'
    >>> machine_key({"cpu": "Apple M2", "os": "Darwin 24.0"})
    'Apple M2'
    """
    for key in ("name", "hostname", "chip", "cpu"):
        value = machine.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "unknown"


#: The one timestamp form the store keeps: UTC, microseconds, ``Z``; it sorts as text.
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC) as an aware datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def stamp(when: datetime) -> str:
    """
    >>> stamp(parse_time("2026-11-30T17:25:49+01:00"))
    '2026-11-30T16:25:49.000000Z'
    """
    return when.astimezone(timezone.utc).strftime(_STAMP)


def normalise_time(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return stamp(parse_time(text))
    except ValueError:
        return None


def utc_now() -> str:
    return stamp(datetime.now(timezone.utc))


class SavedRun:
    """Where a report was saved: its run ``id``; ``created`` is False when the very same report
    was stored already (under ``id``); ``where`` names the store (password masked)."""

    __slots__ = ("created", "id", "where")

    def __init__(self, id: int, created: bool, where: str) -> None:
        self.id, self.created, self.where = id, created, where

    def __repr__(self) -> str:
        return f"SavedRun(id={self.id}, created={self.created}, where={self.where!r})"


def _think(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value) if isinstance(value, bool) else str(value)


class Store:
    """A connection to one results store (SQLite file or PostgreSQL database).

    Open it with ``open_store``; use it as a context manager or call ``close``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def where(self) -> str:
        """The store's location for messages: a file path, or the URL with the password masked."""
        return self.engine.shown

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------------

    def save(
        self,
        report: BenchReport | Mapping[str, Any],
        *,
        tags: Mapping[str, str] | None = None,
        source: str = "bench",
    ) -> SavedRun:
        """Record a report: its full JSON, its provenance, every result, summary statistic,
        per-request sample and batch, and ``tags``. Saving the very same report twice stores it
        once (``created`` is False the second time)."""
        data = as_dict(report)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(text.encode()).hexdigest()
        eng = self.engine
        with eng.transaction():
            run_id = self._write(data, text, digest, source, tags or {})
            if run_id is None:  # the same report is stored already
                found = eng.query("SELECT id FROM runs WHERE digest = ?", (digest,))
                return SavedRun(int(found[0][0]), False, self.where)
        return SavedRun(run_id, True, self.where)

    def rehearse(self) -> None:
        """Save a one-request report and roll it back, if no other process is writing: SQLite
        compiles the save's statements and reads the pages a save writes, and a real save on
        this connection then takes half as long. For a bench, whose store is opened on a
        thread with time to spare (Python's sqlite3 has no other way to prepare a statement).
        A store that is busy is left alone: the rehearsal never waits for a lock."""
        run = {"summary": {"ttft_s": {}}, "runs": [{}], "batches": [{}]}
        try:
            with self.engine.transaction(wait=False):
                self._write({"results": [run]}, "{}", "", "bench", {"k": "v"})
                raise _Rehearsed
        except (_Rehearsed, StoreError):
            pass

    def _write(
        self,
        data: Mapping[str, Any],
        text: str,
        digest: str,
        source: str,
        tags: Mapping[str, str],
    ) -> int | None:
        """Insert the run and everything in it (in the caller's transaction); its ID, or None
        when a run with the same digest is stored already."""
        eng = self.engine
        run_id = eng.insert(*self._run_row(data, text, digest, source))
        if run_id is None:
            return None
        for position, result in enumerate(data.get("results") or []):
            self._insert_result(run_id, position, result)
        eng.executemany(
            "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
            [(run_id, k, v) for k, v in tags.items()],
        )
        return run_id

    @staticmethod
    def _run_row(
        data: Mapping[str, Any], text: str, digest: str, source: str
    ) -> tuple[str, tuple[Any, ...]]:
        server = data.get("server") or {}
        machine = data.get("machine") or {}
        results = data.get("results") or []
        now = utc_now()
        models = list(dict.fromkeys(str(r.get("model", "")) for r in results))
        values = (
            digest,
            normalise_time(data.get("started_at")) or now,
            normalise_time(data.get("finished_at")),
            now,
            str(data.get("schema", "")),
            str(data.get("llmbox_version", "")),
            str(data.get("backend", "")),
            server.get("kind"),
            server.get("host"),
            server.get("version"),
            machine_key(machine),
            machine.get("cpu"),
            machine.get("os"),
            int(bool(data.get("interrupted"))),
            json.dumps(models, ensure_ascii=False),
            len(results),
            sum(int(r.get("failed_runs") or 0) for r in results),
            source,
            text,
        )
        columns = (
            "digest, started_at, finished_at, saved_at, schema, llmbox_version, backend, "
            "server_kind, host, server_version, machine, cpu, os, interrupted, models, "
            "n_results, failed_runs, source, report"
        )
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO runs ({columns}) VALUES ({marks}) ON CONFLICT (digest) DO NOTHING"
        return sql, values

    def _insert_result(self, run_id: int, position: int, result: Mapping[str, Any]) -> None:
        eng = self.engine
        info = result.get("model_info") or {}
        case = result.get("case") or {}
        runs = result.get("runs") or []
        values = (
            run_id,
            position,
            str(result.get("model", "")),
            info.get("digest"),
            info.get("family"),
            info.get("parameter_size"),
            info.get("parameter_count"),
            info.get("quantization"),
            info.get("size"),
            info.get("size_vram"),
            info.get("context_length"),
            info.get("processor"),
            str(case.get("label", "")),
            _think(case.get("think")),
            None if case.get("cold") is None else int(bool(case.get("cold"))),
            *(_cell(case.get(c)) for c in CASE_COLUMNS),
            len(runs),
            int(result.get("failed_runs") or 0),
            result.get("initial_load_s"),
            ",".join(str(w.get("code", "")) for w in result.get("warnings") or []),
            result.get("image_tokens"),
        )
        result_id = eng.insert(
            "INSERT INTO results (run_id, position, model, model_digest, family, parameter_size, "
            "parameter_count, quantization, size_bytes, size_vram, context_length, processor, "
            f"case_label, think, cold, {', '.join(CASE_COLUMNS)}, n_runs, failed_runs, "
            "initial_load_s, warnings, image_tokens) "
            f"VALUES ({', '.join('?' * len(values))})",
            values,
        )
        assert result_id is not None
        summary = result.get("summary") or {}
        eng.executemany(
            f"INSERT INTO summaries (result_id, metric, {', '.join(STAT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (2 + len(STAT_COLUMNS)))})",
            [(result_id, m, *(s.get(c) for c in STAT_COLUMNS)) for m, s in summary.items()],
        )
        eng.executemany(
            f"INSERT INTO samples (result_id, position, {', '.join(SAMPLE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (2 + len(SAMPLE_COLUMNS)))})",
            [
                (result_id, i, *(_cell(run.get(c)) for c in SAMPLE_COLUMNS))
                for i, run in enumerate(runs)
            ],
        )
        eng.executemany(
            "INSERT INTO batches (result_id, batch, requests, failed, wall_s, output_tokens, "
            "aggregate_tps) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (result_id, b.get("batch"), b.get("requests"), b.get("failed"), b.get("wall_s"),
                 b.get("output_tokens"), b.get("aggregate_tps"))
                for b in result.get("batches") or []
            ],
        )  # fmt: skip

    def delete(self, ids: Sequence[int]) -> list[int]:
        """Remove runs (and everything recorded with them). Every ID must exist: if one does not,
        nothing is removed."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        with self.engine.transaction():
            from llmbox.store._query import MAX_ID

            marks = ", ".join("?" * len(wanted))
            storable = [i if i <= MAX_ID else 0 for i in wanted]  # beyond any store: like 0
            found = {
                int(r[0])
                for r in self.engine.query(f"SELECT id FROM runs WHERE id IN ({marks})", storable)
            }
            if missing := [i for i in wanted if i not in found]:
                raise UsageError(
                    f"no run {', '.join(map(str, missing))} in {self.where}; nothing removed",
                    hint=_NOT_FOUND_HINT,
                )
            self.engine.execute(f"DELETE FROM runs WHERE id IN ({marks})", wanted)
        return wanted

    # -- reading ----------------------------------------------------------------------------------

    def count(self, flt: RunFilter | None = None) -> int:
        from llmbox.store._query import RunFilter, _where

        where, params = _where(flt or RunFilter())
        return int(self.engine.query(f"SELECT COUNT(*) FROM runs r{where}", params)[0][0])

    def runs(
        self, flt: RunFilter | None = None, *, limit: int | None = None, oldest_first: bool = False
    ) -> list[RunInfo]:
        """Runs matching ``flt``, newest first (or oldest first), at most ``limit``, with tags."""
        from llmbox.store._query import _RUN_COLUMNS, RunFilter, _run_info, _where

        where, params = _where(flt or RunFilter())
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r{where}"
        sql += f" ORDER BY r.started_at {order}, r.id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        infos = [_run_info(row) for row in self.engine.query(sql, params)]
        self._attach_tags(infos, where, params)
        return infos

    def _attach_tags(self, infos: Sequence[RunInfo], where: str, params: Sequence[Any]) -> None:
        if not infos:
            return
        by_id = {info.id: info for info in infos}
        if len(infos) <= 500:
            ids = list(by_id)
            rows = self.engine.query(
                f"SELECT run_id, key, value FROM tags WHERE run_id IN ({', '.join('?' * len(ids))})"
                " ORDER BY run_id, key",
                ids,
            )
        else:
            rows = self.engine.query(
                f"SELECT t.run_id, t.key, t.value FROM tags t JOIN runs r ON r.id = t.run_id{where}"
                " ORDER BY t.run_id, t.key",
                params,
            )
        for run_id, key, value in rows:
            if (info := by_id.get(int(run_id))) is not None:
                info.tags[key] = value

    def info(self, run_id: int) -> RunInfo:
        from llmbox.store._query import RunFilter

        found = self.runs(RunFilter(ids=(run_id,)))
        if not found:
            raise UsageError(f"no run {run_id} in {self.where}", hint=_NOT_FOUND_HINT)
        return found[0]

    def report(self, run_id: int) -> dict[str, Any]:
        """The stored ``llmbox.bench/1`` JSON of a run, exactly as it was saved."""
        from llmbox.store._query import MAX_ID

        rows = (
            []
            if run_id > MAX_ID
            else self.engine.query("SELECT report FROM runs WHERE id = ?", (run_id,))
        )
        if not rows:
            raise UsageError(f"no run {run_id} in {self.where}", hint=_NOT_FOUND_HINT)
        data: dict[str, Any] = json.loads(rows[0][0])
        return data

    def load(self, run_id: int) -> BenchReport:
        """The stored run as the typed report model."""
        from llmbox.results import BenchReport

        return BenchReport.parse(self.report(run_id), f"run {run_id}")

    def reports(
        self, flt: RunFilter | None = None, *, page: int = 200
    ) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Every matching run with its report, oldest first, read ``page`` at a time."""
        infos = self.runs(flt, oldest_first=True)
        for start in range(0, len(infos), page):
            chunk = infos[start : start + page]
            ids = [i.id for i in chunk]
            rows = self.engine.query(
                f"SELECT id, report FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids
            )
            texts = {int(r[0]): r[1] for r in rows}
            for info in chunk:
                if info.id in texts:
                    yield info, json.loads(texts[info.id])

    def points(
        self,
        flt: RunFilter | None = None,
        metrics: Sequence[str] | None = None,
        *,
        with_samples: bool = False,
    ) -> list[Point]:
        """Summary statistics of each (run, model, case, metric) matching ``flt``, oldest first;
        with ``with_samples`` also the per-request values behind each (for tests of change and
        distribution charts). ``metrics`` None means all."""
        from llmbox.store._query import Point, _metric_where

        where, params = _metric_where(flt, metrics)
        stats = ", ".join("s." + c for c in STAT_COLUMNS)
        sql = (
            "SELECT r.id, res.id, r.started_at, res.model, res.case_label, r.machine, r.backend, "
            "r.server_version, r.host, r.llmbox_version, res.prompt_tokens, res.max_tokens, "
            f"res.concurrency, res.quantization, s.metric, {stats}"
            " FROM runs r JOIN results res ON res.run_id = r.id"
            f" JOIN summaries s ON s.result_id = res.id{where}"
            " ORDER BY r.started_at, r.id, res.position, s.metric"
        )
        out = []
        for row in self.engine.query(sql, params):
            values = {
                c: float(v) for c, v in zip(STAT_COLUMNS, row[15:], strict=True) if v is not None
            }
            out.append(
                Point(
                    run_id=int(row[0]),
                    result_id=int(row[1]),
                    started_at=row[2],
                    model=row[3],
                    case_label=row[4],
                    machine=row[5],
                    backend=row[6],
                    server_version=row[7],
                    host=row[8],
                    llmbox_version=row[9],
                    prompt_tokens=row[10],
                    max_tokens=row[11],
                    concurrency=row[12],
                    quantization=row[13],
                    metric=row[14],
                    stats=values,
                )
            )
        if with_samples and out:
            self._attach_samples(out)
        return out

    def run_stats(self, flt: RunFilter | None = None, metrics: Sequence[str] = ()) -> list[RunStat]:
        """Each (run, result, metric)'s count, mean and sd, oldest first: what change detection
        reads (``points`` without the rest, ~4x faster over 10,000 runs). ``metrics`` empty
        means all."""
        from llmbox.store._query import RunStat, _metric_where

        where, params = _metric_where(flt, metrics)
        sql = (
            "SELECT r.id, r.started_at, res.model, res.case_label, r.machine, r.backend, "
            "r.server_version, s.metric, s.n, s.mean, s.sd"
            " FROM runs r JOIN results res ON res.run_id = r.id"
            f" JOIN summaries s ON s.result_id = res.id{where}"
            " ORDER BY r.started_at, r.id, res.position, s.metric"
        )
        return [RunStat._make(row) for row in self.engine.query(sql, params)]

    def _attach_samples(self, points: Sequence[Point]) -> None:
        from llmbox.store._samples import metric_values

        result_ids = sorted({p.result_id for p in points})
        values: dict[int, dict[str, list[float]]] = {}
        for start in range(0, len(result_ids), 500):
            ids = result_ids[start : start + 500]
            marks = ", ".join("?" * len(ids))
            rows = self.engine.query(
                f"SELECT result_id, {', '.join(SAMPLE_COLUMNS)} FROM samples "
                f"WHERE result_id IN ({marks}) ORDER BY result_id, position",
                ids,
            )
            batches = self.engine.query(
                f"SELECT result_id, requests, wall_s, aggregate_tps FROM batches "
                f"WHERE result_id IN ({marks}) ORDER BY result_id, batch",
                ids,
            )
            values.update(metric_values(rows, batches, {p.metric for p in points}))
        for p in points:
            p.samples = values.get(p.result_id, {}).get(p.metric, [])


def open_store(
    url: str | None = None, *, create: bool = True, stopped: Callable[[], bool] | None = None
) -> Store:
    """Open the store at ``url`` (else ``$LLMBOX_DB``, else the default SQLite file), creating
    or migrating its tables. With ``create=False`` a SQLite file that does not exist yet reads
    as an empty store and is not created. ``stopped``: asked while a migration waits for
    another writer's lock (``Engine.stopped``)."""
    target = parse_url(resolve_url(url))
    engine: Engine
    if target.kind == "postgresql":
        from llmbox.store._postgres import PostgresEngine  # not on SQLite's path: ~0.3 ms

        engine = PostgresEngine(target)
    else:
        try:
            engine = SqliteEngine(target, create=create)
        except UsageError as err:  # a directory, a results file: say where it came from
            raise from_env(err) if from_env_only(url) else err from None
    engine.stopped = stopped
    try:
        _schema.migrate(engine, utc_now())
    except BaseException:
        engine.close()
        raise
    return Store(engine)


class _Rehearsed(Exception):
    """Rolls a rehearsed save back."""


def _cell(value: Any) -> Any:
    """Booleans as 0/1 (the store's integer form in both engines)."""
    return int(value) if isinstance(value, bool) else value
