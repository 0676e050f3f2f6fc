"""The PostgreSQL engine (``postgresql://`` stores): psycopg 3 in autocommit mode, ``?``
placeholders rewritten to ``%s``, migrations serialised by an advisory lock, and its errors as
``StoreError``/``UsageError`` messages. Imported only for a PostgreSQL URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from llmbox.errors import StoreError, UsageError
from llmbox.store import _engine
from llmbox.store._engine import Engine, Row
from llmbox.store._url import Target

#: Seconds to wait for a PostgreSQL server to accept the connection.
CONNECT_TIMEOUT_S = 5
#: Any constant: the advisory lock that serialises migrations across clients.
_LOCK_KEY = 0x6C6C6D62  # "llmb"


class PostgresEngine(Engine):
    kind = "postgresql"

    def __init__(self, target: Target) -> None:
        assert target.dsn is not None
        self.shown = target.shown
        try:
            import psycopg
        except ImportError:
            raise UsageError(
                "PostgreSQL support is not installed",
                hint="pip install 'llmbox[postgres]' (psycopg 3)",
            ) from None
        self._psycopg = psycopg
        with self._errors(connecting=True):
            self.conn = psycopg.connect(
                target.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        with self._errors():  # a lock held elsewhere fails a save as SQLite's does, not never
            self.conn.execute(f"SET lock_timeout = {int(_engine.BUSY_TIMEOUT_S * 1000)}")

    @contextlib.contextmanager
    def _errors(self, *, connecting: bool = False) -> Iterator[None]:
        psycopg = self._psycopg
        try:
            yield
        except psycopg.errors.LockNotAvailable:
            raise StoreError(
                f"the store at {self.shown} is locked by another session (waited "
                f"{_engine.BUSY_TIMEOUT_S:g} s)",
                hint="retry when the other llmbox finishes; the pg_locks view shows who holds it",
            ) from None
        except psycopg.OperationalError as err:
            detail = _first_line(err)
            if connecting:
                raise StoreError(
                    f"cannot connect to PostgreSQL at {self.shown}: {detail}",
                    hint="check that the server runs and the URL in --db / LLMBOX_DB "
                    "(try: psql 'URL')",
                ) from None
            raise StoreError(
                f"PostgreSQL at {self.shown}: {detail}", hint="check the server and retry"
            ) from None
        except psycopg.errors.InsufficientPrivilege as err:
            raise StoreError(
                f"PostgreSQL at {self.shown}: {_first_line(err)}",
                hint="the user needs CREATE on the database and rights on the llmbox tables",
            ) from None
        except psycopg.Error as err:
            raise StoreError(
                f"PostgreSQL at {self.shown}: {_first_line(err)}", hint="rerun with --debug"
            ) from None
        except ValueError as err:  # psycopg rejects a malformed connection string this way
            raise UsageError(
                f"bad PostgreSQL URL {self.shown}: {err}",
                hint="postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME",
            ) from None

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._errors():
            return self.conn.execute(self._sql(sql), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._errors():
            self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._errors(), self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int | None:
        with self._errors():
            row = self.conn.execute(self._sql(sql) + " RETURNING id", params).fetchone()
        return None if row is None else int(row[0])

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False, wait: bool = True) -> Iterator[None]:
        # (wait=False is not used with PostgreSQL, whose writers lock rows, not the database)
        with self._errors(), self.conn.transaction():
            if exclusive:
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            yield

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.conn.close()


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0].strip()
