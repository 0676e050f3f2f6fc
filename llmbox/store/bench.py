"""The store as a benchmark's history: ``bench --db/--no-save/--tag`` and ``--baseline
last|best|ID|tag:K=V``. Implements ``llmbox.bench.session.History``, so the benchmark core never
imports the store (the CLI hands this in).
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.bench.session import Saved
from llmbox.errors import Interrupted, Terminated
from llmbox.results import BenchReport

if TYPE_CHECKING:
    from llmbox.bench.plan import Plan
    from llmbox.store._store import Store


def _looks_like_file(spec: str) -> bool:
    return spec.endswith(".json") or "/" in spec or Path(spec).is_file()


class StoreHistory:
    """Save finished reports to the store at ``db`` (unless ``save`` is False) with ``tags``,
    and find baselines among its runs."""

    def __init__(
        self,
        db: str | None = None,
        *,
        save: bool = True,
        tags: Sequence[str] = (),
        stopped: Callable[[], bool] | None = None,
    ):
        self.db = db
        self.stopped = stopped
        self.saving = save
        self.tags: dict[str, str] = {}
        if tags:  # a bad spec is a usage error, before any run
            from llmbox.store._report import parse_tags  # without sqlite3: --no-save loads none

            self.tags = parse_tags(tags)
        self._open: Store | None = None

    def check(self) -> None:
        """Open the store before the first request, so a wrong --db fails now. A SQLite store
        stays open for the save (one open instead of two: a saved run costs a few ms, not a
        dozen); a PostgreSQL connection is closed, as a server may drop it while the run goes
        on for hours."""
        if self.saving:
            from llmbox.errors import StoreError
            from llmbox.store import open_store

            try:
                store = open_store(self.db)
            except StoreError as err:  # the run itself needs no store
                raise StoreError(err.message, hint=f"{err.hint}; or bench with --no-save") from None
            if store.engine.kind == "sqlite":
                self._open = store
            else:
                store.close()

    def baseline(self, spec: str, plan: Plan) -> tuple[BenchReport, str]:
        """A saved file, or a stored run: ``last`` (the latest earlier run of this machine and
        backend that shares a model and case), ``best``, a run ID or ``tag:KEY=VALUE``."""
        if Path(spec).is_dir():
            from llmbox.errors import UsageError
            from llmbox.store._baseline import SPEC_HINT

            raise UsageError(f"--baseline {spec}: a directory, not a saved run", hint=SPEC_HINT)
        if _looks_like_file(spec):
            return BenchReport.load(Path(spec)), spec
        from llmbox.machine import describe
        from llmbox.store import find_baseline, open_store
        from llmbox.store._baseline import check_spec
        from llmbox.store._engine import check_named_file
        from llmbox.store._store import machine_key

        check_spec(spec)
        check_named_file(self.db)  # a typo in --db would read as a store with no runs

        like: dict[str, Any] = {
            "machine": describe(),
            "backend": plan.backend,
            "results": [{"model": m, "case": {"label": c.label}} for m, c in plan.grid],
        }
        with open_store(self.db, create=False) as store:
            info = find_baseline(store, spec, like=like)
            source = f"run {info.id} in {store.where}"
            if info.machine != machine_key(like["machine"]):  # an ID or tag may name any run
                source += f", measured on {info.machine}, not this machine"
            return store.load(info.id), source

    def save(self, report: BenchReport) -> Saved | None:
        """Save ``report``. A Ctrl-C or SIGTERM before it is committed (the store locked by
        another process, a slow disk) fails the save like any store error: the results are
        printed and kept regardless, and the exit code is 130 or 143."""
        if not self.saving:
            return None
        from llmbox.aio import sigterm_raises
        from llmbox.store import open_store

        unsaved = "while saving the run"
        try:
            with sigterm_raises(_SigTerm):
                store, self._open = self._open or open_store(self.db), None
                store.engine.stopped = self.stopped  # a fleet's hosts save on worker threads
                try:
                    store.engine.defer_sync()  # closed right after: durable once the close is done
                    saved = store.save(report, tags=self.tags)
                except BaseException:
                    store.close()
                    raise
        except _SigTerm:
            raise Terminated(f"terminated by SIGTERM {unsaved}") from None
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted {unsaved}") from None
        # The run is committed; closing a SQLite store checkpoints its WAL into the file (an
        # fsync, ~1-2 ms) and that can go on while the results are printed.
        close_in_background(store)
        return Saved(id=saved.id, where=saved.where)


class _SigTerm(KeyboardInterrupt):
    """SIGTERM during a save. A KeyboardInterrupt, as psycopg cancels a PostgreSQL query
    interrupted by one and leaves the connection usable (any other exception leaves it mid-query,
    and its rollback logs "another command is already in progress")."""


_closing: list[_thread.LockType] = []


def close_in_background(store: Store) -> None:
    """Close ``store`` on a thread of its own; the process waits for it at exit
    (``wait_for_closes``). A low-level thread: ``threading.Thread.start`` waits until the new
    thread has run (0.3-1.4 ms on a 2-core VM, a fifth of a save); this does not. A failed
    checkpoint is redone by the next open."""
    done = _thread.allocate_lock()
    done.acquire()

    def close() -> None:
        try:
            with contextlib.suppress(Exception):
                store.close()
        finally:
            done.release()

    _closing.append(done)
    _thread.start_new_thread(close, ())


def wait_for_closes() -> None:
    """Wait until every store closed in the background is closed (at exit, and in tests). A
    Ctrl-C while waiting (a checkpoint on a slow network disk) stops waiting quietly: the run is
    committed, and the next open finishes the checkpoint."""
    try:
        while _closing:
            done = _closing.pop()
            done.acquire()
            done.release()
    except KeyboardInterrupt:
        return


atexit.register(wait_for_closes)
