"""``bench --baseline last|best|ID|tag:KEY=VALUE``: which stored run a new report is compared with.

A stored run is *comparable* with the new report when it ran on the same machine and backend,
started before it, and measured at least one of its (model, case) pairs.

- ``last``: the most recent comparable run.
- ``best``: among the comparable runs covering the most of the new report's pairs, the one with
  the highest ``decode_tps`` (geometric mean over the pairs, each relative to its best run).
- ``ID``: that run, wherever it ran.
- ``tag:KEY=VALUE`` (or ``tag:KEY``): the most recent run carrying the tag, comparable ones first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbox.errors import UsageError
from llmbox.results import pairs_text
from llmbox.store._query import RunFilter, RunInfo
from llmbox.store._report import parse_tag_filters
from llmbox.store._store import Store, as_dict, machine_key, normalise_time

if TYPE_CHECKING:
    from llmbox.results import BenchReport

SPEC_HINT = "use last, best, a run ID from `llmbox history`, tag:KEY=VALUE, or a saved JSON file"
BEST_METRIC = "decode_tps"


def _pairs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    return list(
        dict.fromkeys(
            (str(r.get("model", "")), str((r.get("case") or {}).get("label", "")))
            for r in data.get("results") or []
        )
    )


def _comparable(store: Store, like: Mapping[str, Any] | None, tag_sql: str = "",
                tag_params: Sequence[Any] = ()) -> list[tuple[int, str, str, str]]:  # fmt: skip
    """(run id, started_at, model, case) of every stored result comparable with ``like``."""
    clauses: list[str] = []
    params: list[Any] = []
    if like is not None:
        clauses += ["r.machine = ?", "r.backend = ?"]
        params += [machine_key(like.get("machine") or {}), str(like.get("backend", ""))]
        if started := normalise_time(like.get("started_at")):
            clauses.append("r.started_at < ?")
            params.append(started)
        pairs = _pairs(like)
        if not pairs:
            return []
        clauses.append(
            "(" + " OR ".join("(res.model = ? AND res.case_label = ?)" for _ in pairs) + ")"
        )
        params += [v for pair in pairs for v in pair]
    if tag_sql:
        clauses.append(tag_sql)
        params += tag_params
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = store.engine.query(
        "SELECT r.id, r.started_at, res.model, res.case_label FROM runs r "
        f"JOIN results res ON res.run_id = r.id{where} ORDER BY r.started_at DESC, r.id DESC",
        params,
    )
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def _best(store: Store, rows: Sequence[tuple[int, str, str, str]]) -> int:
    """Of the runs in ``rows`` (newest first) covering the most (model, case) pairs, the one
    with the highest geometric mean of ``decode_tps`` relative to the best run of each pair."""
    ids = list(dict.fromkeys(r[0] for r in rows))
    pairs = {(r[2], r[3]) for r in rows}
    values: dict[tuple[int, tuple[str, str]], float] = {}
    for p in store.points(RunFilter(ids=tuple(ids)), [BEST_METRIC]):
        pair = (p.model, p.case_label)
        if pair in pairs and p.stats.get("mean", 0) > 0:
            values[(p.run_id, pair)] = p.stats["mean"]
    top: dict[tuple[str, str], float] = {}
    for (_, pair), value in values.items():
        top[pair] = max(top.get(pair, 0.0), value)
    logs: dict[int, list[float]] = {run_id: [] for run_id in ids}
    for (run_id, pair), value in values.items():
        logs[run_id].append(math.log(value / top[pair]))
    order = {run_id: i for i, run_id in enumerate(ids)}

    def rank(run_id: int) -> tuple[int, float, int]:
        mine = logs[run_id]
        return (len(mine), math.fsum(mine) / len(mine) if mine else -math.inf, -order[run_id])

    return max(ids, key=rank)


def find_baseline(
    store: Store, spec: str, *, like: BenchReport | Mapping[str, Any] | None = None
) -> RunInfo:
    """The stored run ``spec`` names (see the module docstring); UsageError if there is none."""
    check_spec(spec)
    text = spec.strip()
    data = None if like is None else as_dict(like)
    if text.isdigit():
        return _sharing(store, store.info(int(text)), data)
    if text in ("last", "latest", "best"):
        rows = _comparable(store, data)
        if not rows:
            raise _none_found(store, data, text)
        run_id = rows[0][0] if text != "best" else _best(store, rows)
        return store.info(run_id)
    if text.startswith("tag:"):
        tags = parse_tag_filters([text[4:]])
        key, value = tags[0]
        if value is None:
            tag_sql = "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ?)"
            tag_params: list[Any] = [key]
        else:
            tag_sql = (
                "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ? AND t.value = ?)"
            )
            tag_params = [key, value]
        rows = _comparable(store, data, tag_sql, tag_params) or _comparable(
            store, None, tag_sql, tag_params
        )
        if not rows:
            raise UsageError(
                f"no stored run is tagged {text[4:]} in {store.where}",
                hint="`llmbox history --tag KEY` lists runs carrying a tag",
            )
        return _sharing(store, store.info(rows[0][0]), data)
    raise AssertionError(text)  # check_spec let through what no branch takes


def check_spec(spec: str) -> None:
    """UsageError unless ``spec`` is a store baseline (see the module docstring) in form: a
    misspelt one is named before the store is looked at."""
    text = spec.strip()
    if text.isdigit() or text in ("last", "latest", "best"):
        return
    if not text.startswith("tag:"):
        raise UsageError(f"--baseline {spec!r}: not a baseline", hint=SPEC_HINT)
    if not text[4:].partition("=")[0].strip():
        raise UsageError(f"--baseline {text!r}: no tag after 'tag:'", hint=SPEC_HINT)


def _sharing(store: Store, info: RunInfo, data: Mapping[str, Any] | None) -> RunInfo:
    """``info`` if it measured a (model, case) of ``data``: a baseline with nothing in common
    would fail every gate with "measured in the baseline but not in this run"."""
    if data is None:
        return info
    rows = store.engine.query(
        "SELECT DISTINCT model, case_label FROM results WHERE run_id = ?", (info.id,)
    )
    theirs = [(str(r[0]), str(r[1])) for r in rows]
    if set(theirs) & set(_pairs(data)):
        return info
    measured, ours = pairs_text(theirs), pairs_text(_pairs(data))
    raise UsageError(
        f"--baseline: run {info.id} shares no model and case with this one (it measured "
        f"{measured}; this one {ours})",
        hint="give the same models and --prompt-tokens/--max-tokens as that run, or another "
        "baseline (`llmbox history --model NAME` lists runs)",
    )


def _none_found(store: Store, data: Mapping[str, Any] | None, spec: str) -> UsageError:
    if data is None:
        return UsageError(f"no runs stored in {store.where}", hint="run llmbox bench first")
    return UsageError(
        f"--baseline {spec}: no earlier run in {store.where} on machine "
        f"{machine_key(data.get('machine') or {})} with backend {data.get('backend')} measured "
        "the same model and case",
        hint="run llmbox bench once without --baseline first; `llmbox history` lists the runs",
    )


def resolve_baseline(
    store: Store, spec: str, *, like: BenchReport | Mapping[str, Any] | None = None
) -> BenchReport:
    """The report of the stored run ``spec`` names, as the typed model."""
    return store.load(find_baseline(store, spec, like=like).id)
