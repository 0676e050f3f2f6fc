"""The store as a benchmark's history: ``bench --db/--no-save/--tag`` and ``--baseline
last|best|ID|tag:K=V``. Implements ``llmbox.bench.session.History``, so the benchmark core never
imports the store (the CLI hands this in).
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbox.bench.session import Saved
from llmbox.errors import Interrupted, Terminated
from llmbox.results import BenchReport

if TYPE_CHECKING:
    from llmbox.bench.plan import Plan
    from llmbox.errors import StoreError
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
        self._sqlite = False  # set by check()
        self._opening: _Opening | None = None  # the SQLite store, opened beside the warm-up

    def check(self) -> None:
        """Refuse a wrong --db before the first request, as far as that can be told without
        loading SQLite (a directory, a results file, another kind of file, no write access, a
        directory that cannot be made, a full disk: ``_url.check_sqlite_file``). A
        PostgreSQL store is opened and closed now: a server may drop a connection held while
        the run goes on for hours."""
        if not self.saving:
            return
        from llmbox.errors import StoreError
        from llmbox.store._url import check_store

        try:
            if check_store(self.db).kind == "sqlite":
                self._sqlite = True
            else:
                from llmbox.store import open_store

                open_store(self.db).close()
        except StoreError as err:  # the run itself needs no store
            raise _or_no_save(err) from None

    @contextlib.contextmanager
    def warming_up(self) -> Iterator[None]:
        """A SQLite store is opened (and created or migrated) on a thread while the server
        answers the first warm-ups: loading SQLite and opening the file take ~3 ms that a bench
        would otherwise add to its run, and the server's first answer takes longer than that.
        Leaving waits for it (before the first measured request, so it never competes with
        one) and raises if it failed; the store stays open for the save. A window that fails
        (the server gone, Ctrl-C) or a wait that is stopped gives the store up: it is closed
        once open, and the save (if any) opens it again."""
        if self._sqlite and self._opening is None:
            self._opening = _Opening(self.db)
        try:
            yield
            if self._opening is not None:
                self._opening.wait(self.stopped)
        except _SigTerm:
            self._give_up()
            raise Terminated("terminated by SIGTERM while opening the history database") from None
        except BaseException:
            self._give_up()
            raise

    def _give_up(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.abandon()

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
        from llmbox.store._store import machine_key
        from llmbox.store._url import check_named_file

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
                opening, self._opening = self._opening, None
                store = opening.take(self.stopped) if opening else open_store(self.db)
                store.engine.stopped = self.stopped  # a fleet's hosts save on worker threads
                try:
                    if not opening:
                        store.engine.defer_sync()  # closed right after: durable once closed
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


def _or_no_save(err: StoreError) -> StoreError:
    return type(err)(err.message, hint=f"{err.hint}; or bench with --no-save")


class _Opening:
    """``open_store(db)`` on a thread of its own (a low-level one: see close_in_background),
    which first lets the warm-up's first request go out: loading SQLite holds the interpreter's
    lock for a millisecond at a time, and a request sent that much later makes the warm-up (and
    the bench) that much longer. A store waited for before the thread began is opened by the
    waiting thread itself, at once (a server that answered the warm-ups that fast leaves no
    time to hide the open in, and handing it to a thread would only add the handover).

    A store no save takes (the bench stopped, or ended with nothing to save) is closed: by
    ``abandon``, or at exit (``wait_for_closes``), so that its write-ahead log is merged into
    the file as after any other open."""

    #: Seconds the thread gives the first request to go out (~1 ms on a 2-core VM; a server
    #: takes tens of ms to answer it, seconds when it loads the model).
    HEAD_START_S = 0.010

    def __init__(self, db: str | None) -> None:
        self._db = db
        self._go, self._claim, self._done, self._hand = (_thread.allocate_lock() for _ in range(4))
        self._go.acquire()
        self._done.acquire()
        self._store: Store | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        _unsaved.append(self)
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        self._go.acquire(timeout=self.HEAD_START_S)
        if self._claim.acquire(blocking=False):  # else the waiter opens it (or it was given up)
            self._open(rehearse=True)  # the thread has the time

    def _open(self, *, rehearse: bool) -> None:
        from llmbox.store import open_store

        store: Store | None = None
        error: BaseException | None = None
        try:
            store = open_store(self._db, stopped=lambda: self._abandoned)
            store.engine.defer_sync()  # closed right after the save: durable once closed
            if rehearse:
                store.rehearse()  # the save after the last request then takes half as long
        except BaseException as err:  # raised where the store is waited for
            if store is not None:
                store.close()
                store = None
            error = err
        with self._hand:
            keep = not self._abandoned
            if keep:
                self._store, self._error = store, error
        if store is not None and not keep:  # given up meanwhile: nobody will take it
            close_in_background(store)
        self._done.release()

    def wait(self, stopped: Callable[[], bool] | None = None) -> Store:
        """The open store; its error as the bench's (with a --no-save hint). A Ctrl-C or
        SIGTERM stops the wait (the store may wait for a lock held by another process; the
        SIGTERM as ``_SigTerm``), as does ``stopped`` (a fleet's worker threads get no signal);
        the store is given up then."""
        from llmbox.errors import StoreError

        try:
            with _signals_raise():
                if self._claim.acquire(blocking=False):  # the thread has not begun: open here
                    self._go.release()  # and let the thread end now
                    self._open(rehearse=False)
                while not self._done.acquire(timeout=0.05):
                    if stopped is not None and stopped():
                        raise StoreError(
                            "stopped while opening the history database", hint="rerun to save"
                        )
        except BaseException:
            self.abandon()
            raise
        self._done.release()
        if isinstance(self._error, StoreError):
            raise _or_no_save(self._error) from None
        if self._error is not None:
            raise self._error
        assert self._store is not None
        return self._store

    def take(self, stopped: Callable[[], bool] | None = None) -> Store:
        """``wait``, for the save, which closes the store from now on."""
        store = self.wait(stopped)
        with contextlib.suppress(ValueError):
            _unsaved.remove(self)
        return store

    def abandon(self) -> None:
        """Give the store up: never opened if the thread has not begun, closed (in the
        background) once open; a thread waiting for another writer's lock stops at its next
        step."""
        with self._hand:
            self._abandoned = True
            store, self._store = self._store, None
        if store is not None:
            close_in_background(store)
        if self._claim.acquire(blocking=False):  # nobody began: nothing will be opened
            self._go.release()
            self._done.release()
        with contextlib.suppress(ValueError):
            _unsaved.remove(self)

    def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for an abandoned open to end (and close what it opened)."""
        if self._done.acquire(timeout=timeout):
            self._done.release()


#: Stores opened beside a warm-up that no save has taken yet (closed at exit).
_unsaved: list[_Opening] = []


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, and SIGTERM ``_SigTerm``, where the code is, while a
    store is waited for. Inside the bench's event loop both are otherwise only noted (the loop
    cancels its task when it runs again), and a wait for another writer's lock blocks the loop:
    they took effect only once the wait was over, up to 30 s later. On the main thread only;
    an ignored signal stays ignored."""
    import signal

    def on_int(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def on_term(signum: int, frame: object) -> None:
        raise _SigTerm

    previous: list[tuple[int, Any]] = []
    try:
        for signum, handler in ((signal.SIGINT, on_int), (signal.SIGTERM, on_term)):
            before = signal.getsignal(signum)
            if before is None or before is signal.SIG_IGN:
                continue  # not set from Python, or ignored (a background job)
            if signum == signal.SIGINT and not callable(before):
                continue  # the caller chose the system's default: Ctrl-C ends the process
            signal.signal(signum, handler)
            previous.append((signum, before))
    except ValueError:  # not the main thread: no signal arrives here anyway
        pass
    try:
        yield
    finally:
        for signum, before in reversed(previous):
            signal.signal(signum, before)


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
    committed, and the next open finishes the checkpoint. A store opened beside a warm-up and
    never saved to is closed first (an open still waiting for another writer's lock is given
    a moment to stop)."""
    try:
        while _unsaved:
            opening = _unsaved[-1]
            opening.abandon()
            opening.settle(timeout=1.0)
        while _closing:
            done = _closing.pop()
            done.acquire()
            done.release()
    except KeyboardInterrupt:
        return


atexit.register(wait_for_closes)
