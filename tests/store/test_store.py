"""The store on both engines: what is saved comes back, filters select, deletes cascade,
the schema is versioned, and broken stores fail with one clear error."""

from __future__ import annotations

import copy
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from llmbox.errors import ExitCode, StoreError, UsageError
from llmbox.results import BenchReport, RunSample
from llmbox.store import RunFilter, open_store, parse_when
from llmbox.store._schema import LATEST, SAMPLE_COLUMNS
from tests.store.reports import T0, report, result

ROOT = Path(__file__).resolve().parents[2]
SAVED_REPORT = ROOT / "tests" / "hw" / "data" / "bench_m2.json"


def _count(store: object, table: str) -> int:
    return int(store.engine.query(f"SELECT COUNT(*) FROM {table}")[0][0])  # type: ignore[attr-defined]


def test_saved_report_round_trips_and_validates(store_url: str) -> None:
    original = report(results=[result("llama3.2", 50.0), result("qwen3:4b", 30.0, label="pp64")])
    with open_store(store_url) as store:
        saved = store.save(original, tags={"git": "abc123"})
        assert saved.created
        back = store.report(saved.id)
        assert back == original
        assert list(back) == list(original)  # key order kept too
        typed = store.load(saved.id)
        assert isinstance(typed, BenchReport)
        assert typed.results[1].model == "qwen3:4b"


def test_every_sample_summary_and_tag_is_in_the_tables(store_url: str) -> None:
    data = report(results=[result("llama3.2", 50.0, n=7), result("qwen3:4b", 30.0, n=3)])
    data["results"][0]["batches"] = [
        {
            "batch": 0,
            "requests": 2,
            "failed": 0,
            "wall_s": 1.0,
            "output_tokens": 256,
            "aggregate_tps": 256.0,
        },
    ]
    with open_store(store_url) as store:
        store.save(data, tags={"ci": "nightly", "git": "abc"})
        assert _count(store, "runs") == 1
        assert _count(store, "results") == 2
        assert _count(store, "samples") == 10
        assert _count(store, "summaries") == 12
        assert _count(store, "batches") == 1
        assert _count(store, "tags") == 2
        [info] = store.runs()
        assert info.tags == {"ci": "nightly", "git": "abc"}
        assert info.models == ["llama3.2", "qwen3:4b"]
        assert (info.machine, info.backend, info.server_version) == ("gpu-box", "ollama", "0.12.3")
        assert info.started_at == "2026-11-01T09:00:00.000000Z"


def test_sample_columns_cover_every_run_sample_field() -> None:
    # A new per-request field needs a migration adding its column (the JSON keeps it meanwhile).
    assert set(SAMPLE_COLUMNS) == set(RunSample.model_fields)


def test_results_columns_cover_every_case_field() -> None:
    from llmbox.results import Case
    from llmbox.store._schema import CASE_COLUMNS, CASE_SPECIAL

    stored = {k for k, f in Case.model_fields.items() if not f.exclude}
    assert stored == set(CASE_COLUMNS) | set(CASE_SPECIAL)


def test_fields_unknown_to_the_tables_are_kept_in_the_report(store_url: str) -> None:
    data = report()
    data["results"][0]["runs"][0]["queue_s"] = 0.25  # a field added by a later llmbox
    data["results"][0]["summary"]["request_tps"] = {
        "n": 1.0,
        "mean": 2.0,
        "sd": 0.0,
        "median": 2.0,
        "min": 2.0,
        "max": 2.0,
        "p50": 2.0,
    }
    with open_store(store_url) as store:
        run_id = store.save(data).id
        assert store.report(run_id)["results"][0]["runs"][0]["queue_s"] == 0.25
        [point] = store.points(RunFilter(), ["request_tps"])
        assert point.stats["mean"] == 2.0


def test_the_same_report_is_stored_once(store_url: str) -> None:
    data = report()
    with open_store(store_url) as store:
        first = store.save(data)
        again = store.save(copy.deepcopy(data))
        assert (again.id, again.created) == (first.id, False)
        assert store.count() == 1


def test_filters(store_url: str) -> None:
    day = timedelta(days=1)
    with open_store(store_url) as store:
        a = store.save(report(started=T0), tags={"git": "a1"}).id
        b = store.save(
            report(started=T0 + day, machine="mac-mini", results=[result("qwen3:4b", 20.0)]),
            tags={"git": "b2", "note": "after driver update"},
        ).id
        c = store.save(
            report(
                started=T0 + 2 * day,
                backend="openai",
                host="http://10.0.0.5:8080",
                results=[result("llama3.2:latest", 40.0, label="pp64")],
            )
        ).id

        def ids(**kw: object) -> list[int]:
            return [r.id for r in store.runs(RunFilter(**kw))]  # type: ignore[arg-type]

        assert ids() == [c, b, a]  # newest first
        assert ids(models=("llama3.2",)) == [c, a]  # llama3.2 is llama3.2:latest
        assert ids(models=("llama3.2:latest",)) == [c, a]
        assert ids(models=("qwen*",)) == [b]
        assert ids(cases=("pp64",)) == [c]
        assert ids(machines=("mac-mini",)) == [b]
        assert ids(machines=("*box",)) == [c, a]
        assert ids(backends=("openai",)) == [c]
        assert ids(hosts=(":11434",)) == [b, a]  # as OLLAMA_HOST would say it
        assert ids(hosts=("10.0.0.5:8080",)) == [c]
        assert ids(tags=(("git", "b2"),)) == [b]
        assert ids(tags=(("note", None),)) == [b]
        assert ids(tags=(("git", None), ("note", None))) == [b]
        assert ids(tags=(("git", "nope"),)) == []
        assert ids(since=parse_when("2026-11-02")) == [c, b]
        assert ids(until=parse_when("2026-11-02")) == [a]
        assert ids(models=("llama3.2",), since=parse_when("2026-11-02")) == [c]
        assert [r.id for r in store.runs(limit=2)] == [c, b]
        assert [r.id for r in store.runs(oldest_first=True)] == [a, b, c]
        assert store.count(RunFilter(models=("llama3.2",))) == 2


def test_points_carry_the_per_request_values(store_url: str) -> None:
    data = report(results=[result("llama3.2", 50.0, n=4)])
    expected = [128 / (r["eval_duration_ns"] / 1e9) for r in data["results"][0]["runs"]]
    data["results"][0]["runs"].append(
        {**data["results"][0]["runs"][0], "error": "boom", "status": 500}
    )  # a failed request counts in no statistic
    with open_store(store_url) as store:
        store.save(data)
        [point] = store.points(RunFilter(), ["decode_tps"], with_samples=True)
        assert point.samples == pytest.approx(expected)
        assert point.stats["mean"] == pytest.approx(sum(expected) / 4)
        assert point.series == ("llama3.2", "pp512 tg128", "gpu-box", "ollama")


def test_rm_cascades_and_unknown_ids_remove_nothing(store_url: str) -> None:
    with open_store(store_url) as store:
        keep = store.save(report(started=T0), tags={"k": "v"}).id
        gone = store.save(report(started=T0 + timedelta(hours=1)), tags={"k": "v"}).id
        with pytest.raises(UsageError, match=r"no run 999 in .*nothing removed"):
            store.delete([gone, 999])
        assert store.count() == 2
        assert store.delete([gone]) == [gone]
        assert [r.id for r in store.runs()] == [keep]
        assert _count(store, "results") == 1
        assert _count(store, "samples") == 5
        assert _count(store, "summaries") == 6
        assert _count(store, "tags") == 1
        with pytest.raises(UsageError, match="no run"):
            store.report(gone)


def test_schema_is_versioned_and_migrated_once(store_url: str) -> None:
    with open_store(store_url) as store:
        rows = store.engine.query("SELECT version, description FROM schema_version")
        assert [r[0] for r in rows] == list(range(1, LATEST + 1))
        assert LATEST >= 2
    with open_store(store_url) as store:  # reopening applies nothing twice
        assert store.engine.query("SELECT COUNT(*) FROM schema_version")[0][0] == LATEST


def test_a_store_from_a_newer_llmbox_is_refused(store_url: str) -> None:
    with open_store(store_url) as store:
        store.engine.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (LATEST + 1, "future", "2030-01-01T00:00:00.000000Z"),
        )
    with pytest.raises(StoreError, match="newer than this llmbox") as err:
        open_store(store_url)
    assert err.value.exit_code == ExitCode.STORE
    assert "upgrade llmbox" in (err.value.hint or "")


def test_someone_elses_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
    with pytest.raises(StoreError, match="not an llmbox store"):
        open_store(str(path))


def test_a_missing_file_reads_as_empty_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "history.db"
    with open_store(f"sqlite:///{path}", create=False) as store:
        assert store.runs() == []
        assert store.where == str(path)
    assert not path.exists()


def test_default_store_is_in_the_user_data_dir(isolated_env: Path) -> None:
    with open_store() as store:
        store.save(report())
    assert (isolated_env / "data" / "llmbox" / "history.db").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux's")
@pytest.mark.parametrize("xdg", [None, "", "  ", "relative/dir", "/srv/data/", "/srv/data"])
def test_default_path_is_platformdirs_answer(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # llmbox computes the Linux data dir itself to save platformdirs' import on every bench run;
    # it must stay the directory platformdirs (and so every other XDG tool) would choose.
    import platformdirs

    from llmbox.store import default_path

    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    expected = Path(platformdirs.user_data_dir("llmbox", appauthor=False)) / "history.db"
    assert default_path() == expected


def test_llmbox_db_env_chooses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOX_DB", str(tmp_path / "env.db"))
    with open_store() as store:
        store.save(report())
    assert (tmp_path / "env.db").is_file()
    with open_store(f"sqlite:///{tmp_path / 'flag.db'}") as store:  # the flag wins
        assert store.count() == 0


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "h.db")) as store:
        assert store.engine.query("PRAGMA journal_mode")[0][0] == "wal"


# -- errors ---------------------------------------------------------------------------------------


def test_corrupt_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not an llmbox history database, or it is corrupt") as err:
        open_store(str(path))
    assert "--db" in (err.value.hint or "")


def test_locked_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmbox.store import _engine

    path = tmp_path / "history.db"
    open_store(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.2)
    try:
        with (
            pytest.raises(StoreError, match="is locked by another process"),
            open_store(str(path)) as store,
        ):
            store.save(report())
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory, not a database file"):
        open_store(str(tmp_path))


def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the history database"):
        open_store(str(blocker / "sub" / "history.db"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@db/llmbox", "unsupported database URL scheme 'mysql'"),
        ("sqlite://", "SQLite URL without a file"),
        ("postgresql://", "PostgreSQL URL without a host or database"),
        ("http://x:1/y", "unsupported database URL scheme 'http'"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        open_store(url)


def test_unreachable_postgresql_names_the_url_without_password() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at") as err:
        open_store(f"postgresql://bench:s3cret@127.0.0.1:{port}/llmbox")
    assert "s3cret" not in err.value.message
    assert "bench:***@" in err.value.message


def test_postgresql_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(UsageError, match="PostgreSQL support is not installed") as err:
        open_store("postgresql://localhost/llmbox")
    assert "llmbox[postgres]" in (err.value.hint or "")


def test_saved_report_file_from_the_repo_imports(store_url: str) -> None:
    from llmbox.store._transfer import read_file

    [entry] = read_file(SAVED_REPORT)
    with open_store(store_url) as store:
        run_id = store.save(entry.report, source="import").id
        assert store.info(run_id).machine == "Apple M2"  # no hostname in that report: the chip


def test_an_older_store_is_upgraded_with_its_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.store import _schema

    path = tmp_path / "v1.db"
    data = report()
    with monkeypatch.context() as m:  # a store written by the llmbox that knew only version 1
        m.setattr(_schema, "MIGRATIONS", _schema.MIGRATIONS[:1])
        m.setattr(_schema, "LATEST", 1)
        with open_store(str(path)) as store:
            store.engine.execute(
                "INSERT INTO runs (digest, started_at, saved_at, schema, llmbox_version, backend, "
                "machine, interrupted, models, n_results, failed_runs, source, report) "
                "VALUES ('d', '2026-01-01T00:00:00.000000Z', 'x', 'llmbox.bench/1', '0.1', "
                "'ollama', 'old-box', 0, '[]', 0, 0, 'bench', ?)",
                (__import__("json").dumps(data),),
            )
    with open_store(str(path)) as store:
        versions = [r[0] for r in store.engine.query("SELECT version FROM schema_version")]
        assert versions == list(range(1, LATEST + 1))
        assert [r.machine for r in store.runs()] == ["old-box"]
        store.save(report(started=T0 + timedelta(days=1)))  # the new columns are there
        assert store.count() == 2


def test_run_info_to_dict_has_every_field(store_url: str) -> None:
    from dataclasses import asdict

    with open_store(store_url) as store:
        store.save(report(), tags={"k": "v"})
        [info] = store.runs()
        assert info.to_dict() == asdict(info)
