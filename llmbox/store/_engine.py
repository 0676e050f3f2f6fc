"""The two database engines behind one small interface: the one place where their errors
become ``StoreError``/``UsageError`` messages. (Where the store is: ``_url``.)

SQL is written once, with ``?`` placeholders; the PostgreSQL engine rewrites them to ``%s``.
Connections run in autocommit mode; ``transaction()`` opens an explicit write transaction
(SQLite: ``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of deadlocking).
"""

from __future__ import annotations

import contextlib
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from llmbox.errors import StoreError
from llmbox.store._url import Target, check_sqlite_file, disk_full, disk_full_error

try:
    # The C module itself: ``sqlite3`` is a wrapper that adds DB-API date/time adapters (unused
    # here: timestamps are text) and registers its Row as a Sequence, which resets every ABC's
    # isinstance cache. Skipping it takes ~1.3 M instructions off a saved bench run (of ~11 M).
    import _sqlite3 as sqlite3
except ImportError:  # an interpreter without it (its classes are the same ones)
    import sqlite3  # type: ignore[no-redef]

# -- engines ---------------------------------------------------------------------------------------

#: Seconds a writer waits for another one to finish before giving up ("database is locked").
BUSY_TIMEOUT_S = 30.0
#: A writer's wait is cut into steps this long (ms), so that a signal is handled between them.
_BUSY_STEP_MS = 50


def _is_busy(err: Exception) -> bool:
    text = str(err)
    return "locked" in text or "busy" in text


Row = tuple[Any, ...]


class Engine:
    """What the store needs from a database connection."""

    kind: str
    shown: str
    #: Asked while a write waits for a lock: True gives up (a stopped fleet's worker threads,
    #: where no signal arrives). None: wait the whole ``BUSY_TIMEOUT_S``.
    stopped: Callable[[], bool] | None = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def insert(self, sql: str, params: Sequence[Any]) -> int | None:
        """Run an INSERT into a table with an ``id`` key; the new row's id (None when an
        ``ON CONFLICT DO NOTHING`` clause skipped it)."""
        raise NotImplementedError

    def transaction(
        self, *, exclusive: bool = False, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """A write transaction; ``exclusive`` also serialises it with every other exclusive one
        (schema migrations; SQLite serialises all writers anyway). ``wait=False``: fail at once
        (a StoreError) if another writer holds the lock, instead of waiting for it."""
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    def defer_sync(self) -> None:
        """Let the next commits skip the disk flush; ``close`` makes them durable. For a save
        that closes right after (one bench run), not for a long import."""

    def close(self) -> None:
        raise NotImplementedError


# -- SQLite ---------------------------------------------------------------------------------------


class SqliteEngine(Engine):
    kind = "sqlite"
    _deferred = False

    def __init__(self, target: Target, *, create: bool) -> None:
        assert target.path is not None
        self.path = target.path
        self.shown = str(target.path)
        check_sqlite_file(self.path, self.shown, write=create)
        if not create and not self.path.exists():
            # Reading a store that was never written: an empty in-memory one answers the same.
            self.conn = sqlite3.connect(":memory:", isolation_level=None)
            return
        with self._errors():
            # SQLite reads a file shorter than its 100-byte header as an empty database
            new = create and (not self.path.exists() or self.path.stat().st_size < 100)
            if new:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA foreign_keys = ON")
            if new:  # WAL is a property of the file: once set, every later open has it (~0.3 ms)
                self.conn.execute("PRAGMA journal_mode = WAL")
            if create:
                self.conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoint
            else:
                self._readable()

    def _readable(self) -> None:
        """Reading a WAL store needs its -shm file, which a read-only filesystem (a shared
        mount, a backup) cannot give: read the file as it is then, without the WAL."""
        try:
            self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError as err:
            if "unable to open" not in str(err) and "readonly" not in str(err):
                raise
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:  # its last runs are in there, unread
                raise StoreError(
                    f"cannot read {self.shown}: it is on a read-only filesystem and its "
                    f"write-ahead log {wal.name} was never merged into it",
                    hint=f"copy {self.path.name} and {wal.name} to a writable directory and "
                    "use --db with the copy",
                ) from None
            self.conn.close()
            uri = "file:" + urllib.parse.quote(str(self.path.absolute())) + "?immutable=1"
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            raise self._translate(err) from None
        except OSError as err:
            raise StoreError(
                f"cannot open the history database {self.shown}: {err.strerror or err}",
                hint="check that the directory exists and is writable, or choose --db",
            ) from None

    def _translate(self, err: sqlite3.Error) -> StoreError:
        text = str(err)
        if _is_busy(err):
            return StoreError(
                f"the history database {self.shown} is locked by another process "
                f"(waited {BUSY_TIMEOUT_S:g} s)",
                hint=f"retry when the other llmbox finishes; `fuser {self.shown}` shows who holds "
                "it",
            )
        if isinstance(err, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text or "corrupt" in text
        ):
            return StoreError(
                f"{self.shown} is not an llmbox history database, or it is corrupt ({text})",
                hint="move the file aside, or choose another with --db / LLMBOX_DB",
            )
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            return StoreError(
                f"cannot write the history database {self.shown}: {text}",
                hint="check the file and its directory are writable, or choose --db",
            )
        folder = self.path.absolute().parent
        if "full" in text or ("disk I/O" in text and disk_full(folder)):
            # a full disk fails a write, and also a read: SQLite's WAL index is a file there
            return disk_full_error(self.shown, folder, text)
        return StoreError(f"history database {self.shown}: {text}", hint="rerun with --debug")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._errors():
            return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._errors():
            self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._errors():
                self.conn.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int | None:
        with self._errors():
            cursor = self.conn.execute(sql, params)
        return cursor.lastrowid if cursor.rowcount > 0 else None

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False, wait: bool = True) -> Iterator[None]:
        with self._errors():
            self._begin(wait)
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        with self._errors():
            self.conn.execute("COMMIT")

    def _begin(self, wait: bool = True) -> None:
        """``BEGIN IMMEDIATE``, waiting up to ``BUSY_TIMEOUT_S`` for another writer to finish in
        steps of ``_BUSY_STEP_MS``: SQLite waits in C, where Python runs no signal handler, so a
        Ctrl-C or SIGTERM during one 30 s wait went unanswered until it ended (a bench that
        looked hung, then lost its results). Between steps both take effect."""
        self.conn.execute(f"PRAGMA busy_timeout = {_BUSY_STEP_MS if wait else 0}")
        deadline: float | None = None
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as err:
                    if not wait or not _is_busy(err):
                        raise
                    now = time.monotonic()
                    if deadline is None:  # the first step has passed already
                        deadline = now + BUSY_TIMEOUT_S - _BUSY_STEP_MS / 1000
                    if now >= deadline:
                        raise
                    if self.stopped is not None and self.stopped():
                        raise StoreError(
                            f"stopped while waiting for the history database {self.shown}, "
                            "locked by another process",
                            hint=f"`fuser {self.shown}` shows who holds it",
                        ) from None
        finally:  # other statements keep SQLite's own wait (a reader meets a lock for moments)
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def tables(self) -> set[str]:
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_")}

    def defer_sync(self) -> None:
        # The first commit after the log was checkpointed away starts a new WAL file, and in
        # NORMAL mode SQLite flushes its header and directory (~1.3 ms of a bench's save). In
        # WAL mode an unflushed commit can be lost on power failure but never corrupts the file
        # (frames carry checksums), which is NORMAL's promise too; the checkpoint that copies
        # the log into the database is what must flush, so none runs until close restores it.
        self.execute("PRAGMA wal_autocheckpoint = 0")
        self.execute("PRAGMA synchronous = OFF")
        self._deferred = True

    def close(self) -> None:
        if self._deferred:
            with contextlib.suppress(sqlite3.Error):  # close checkpoints, flushing as it goes
                self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.close()


def sqlite_path(engine: Engine) -> Path | None:
    return engine.path if isinstance(engine, SqliteEngine) else None
