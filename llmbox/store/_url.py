"""Where the store is: ``--db URL`` > ``$LLMBOX_DB`` > ``history.db`` in the user data dir, and
what can be checked about it without opening it (this module loads no database driver, so that
``bench`` can check its ``--db`` before the first request and open the store beside the
warm-up).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TypeVar

from llmbox.errors import LlmboxError, StoreError, UsageError

DB_ENV = "LLMBOX_DB"
DB_FILENAME = "history.db"
_URL_HINT = "use sqlite:///PATH (or a plain file path) or postgresql://USER@HOST:PORT/DBNAME"


class Target:
    """A parsed store URL. ``path`` is set for SQLite, ``dsn`` for PostgreSQL; ``shown`` is the
    URL with any password masked, for messages. (A plain class: a dataclass costs ~1 ms to
    define, and saving a run must stay within a few.)"""

    __slots__ = ("dsn", "kind", "path", "shown")

    def __init__(
        self, kind: str, shown: str, *, path: Path | None = None, dsn: str | None = None
    ) -> None:
        self.kind, self.shown, self.path, self.dsn = kind, shown, path, dsn


_ON_LINUX = "linux" in sys.platform  # a plain bool: mypy checks both branches on every OS


def default_path() -> Path:
    """``history.db`` in the user data directory (``$XDG_DATA_HOME/llmbox`` on Linux)."""
    if _ON_LINUX:
        # platformdirs' answer, without its ~4 ms import on every saved bench run (a test holds
        # the two equal): an unset, blank or relative $XDG_DATA_HOME means ~/.local/share.
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
        return base / "llmbox" / DB_FILENAME
    import platformdirs

    return Path(platformdirs.user_data_dir("llmbox", appauthor=False)) / DB_FILENAME


def resolve_url(flag: str | None = None) -> str:
    """The store URL in force: the flag, else ``$LLMBOX_DB``, else the default SQLite file."""
    if flag is not None and flag.strip():
        return flag.strip()
    value = os.environ.get(DB_ENV, "").strip()
    if not value:
        return f"sqlite:///{default_path()}"
    try:
        parse_url(value)
    except UsageError as err:
        raise from_env(err) from None
    return value


_E = TypeVar("_E", bound=LlmboxError)


def from_env(err: _E) -> _E:
    """``err``, about the store ``$LLMBOX_DB`` names, saying so: the user may have forgotten
    setting it."""
    return type(err)(f"{err.message} (from ${DB_ENV})", hint=f"{err.hint}; or unset {DB_ENV}")


def mask_password(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``.

    >>> mask_password("postgresql://bench:s3cret@db.lan:5432/llmbox")
    'postgresql://bench:***@db.lan:5432/llmbox'
    >>> mask_password("postgresql://db.lan/llmbox?user=bench&password=s3cret&sslmode=require")
    'postgresql://db.lan/llmbox?user=bench&password=***&sslmode=require'
    >>> mask_password("sqlite:///tmp/h.db")
    'sqlite:///tmp/h.db'
    """
    import re

    url = re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)  # libpq's ?password=
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    user, colon, _ = auth.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def parse_url(url: str) -> Target:
    """Parse a store URL. As in SQLAlchemy, ``sqlite:///h.db`` is a relative path and
    ``sqlite:////var/lib/h.db`` an absolute one; a plain path is a SQLite file too.

    >>> parse_url("sqlite:////var/lib/h.db").path, parse_url("sqlite:///h.db").path
    (PosixPath('/var/lib/h.db'), PosixPath('h.db'))
    >>> parse_url("/srv/llmbox/history.db").kind
    'sqlite'
    >>> parse_url("postgres://ci@db:5432/bench").kind
    'postgresql'
    """
    raw = url.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        if not raw or raw.startswith(("postgres", "sqlite")) or ":" in raw.split("/")[0]:
            raise UsageError(f"not a database URL: {raw!r}", hint=_URL_HINT)
        return Target("sqlite", raw, path=Path(raw).expanduser())  # a plain file path
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///rel.db is a relative path, sqlite:////abs.db an absolute one (SQLAlchemy's
        # convention); sqlite:///~/h.db expands the home directory.
        if rest and not rest.startswith("/"):  # sqlite://h.db: the file name read as a host
            raise UsageError(
                f"SQLite URL with two slashes: {raw!r}",
                hint=f"a SQLite URL has three: sqlite:///{rest} (four for an absolute path)",
            )
        if not rest.startswith("/") or rest == "/":
            raise UsageError(f"SQLite URL without a file: {raw!r}", hint=_URL_HINT)
        return Target("sqlite", raw, path=Path(rest[1:]).expanduser())
    if scheme in ("postgresql", "postgres"):
        if not rest or rest == "/":
            raise UsageError(f"PostgreSQL URL without a host or database: {raw!r}", hint=_URL_HINT)
        return Target("postgresql", mask_password(raw), dsn=f"postgresql://{rest}")
    raise UsageError(f"unsupported database URL scheme {scheme!r} in {mask_password(raw)!r}",
                     hint=_URL_HINT)  # fmt: skip


def from_env_only(flag: str | None) -> bool:
    """True when the store in force is the one ``$LLMBOX_DB`` names (no ``--db``)."""
    return not (flag and flag.strip()) and bool(os.environ.get(DB_ENV, "").strip())


def check_store(flag: str | None) -> Target:
    """The store a run will be saved in, checked as far as it can be without opening it."""
    target = parse_url(resolve_url(flag))
    if target.path is not None:
        try:
            check_sqlite_file(target.path, str(target.path), write=True)
        except (UsageError, StoreError) as err:  # a directory, a text file: say where it came from
            raise from_env(err) if from_env_only(flag) else err from None
    return target


def check_named_file(db: str | None) -> None:
    """For commands that only read: a SQLite file named by ``--db`` must exist, since a typo
    there would read as an empty store. (``$LLMBOX_DB`` or the default file not written yet is
    just an empty store.)"""
    if db is None or not db.strip():
        return
    path = parse_url(db).path
    if path is not None and not path.exists():
        raise UsageError(
            f"no history database at {path}",
            hint="check --db (without it llmbox reads $LLMBOX_DB or the default); "
            "llmbox bench MODEL --db PATH creates one",
        )


#: What results files are called (bench -o FORMAT:PATH, report -o): not a database's name.
_RESULT_SUFFIXES = (".json", ".jsonl", ".csv", ".md", ".html", ".htm")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, shown: str, *, write: bool) -> None:
    """What a SQLite store at ``path`` can be refused for before SQLite is loaded: a directory,
    a results file's name, another kind of file, and (``write``) a file or directory this user
    cannot write. SQLite says the same later, but a bench checks this before its first request
    and opens the store only beside its warm-up."""
    if path.is_dir():
        raise UsageError(
            f"{shown} is a directory, not a database file",
            hint=f"name a file, e.g. --db {path / DB_FILENAME}",
        )
    head = _head(path)
    if path.suffix.lower() in _RESULT_SUFFIXES and head != _SQLITE_MAGIC:
        # ``--db run.json`` is ``-o json:run.json`` (or ``history import run.json``) mistyped:
        # refused rather than made a database or read as a corrupt one
        raise UsageError(
            f"{shown} is named like a results file: the history database (--db) is a SQLite file",
            hint="name it like history.db; -o FORMAT:PATH writes a run's results to a file, "
            "and `llmbox history import PATH` adds a saved one to the store",
        )
    if head and not _SQLITE_MAGIC.startswith(head):
        raise StoreError(  # (SQLite would overwrite a short one: it reads as an empty database)
            f"{shown} is not an llmbox history database, or it is corrupt (not a SQLite file)",
            hint="move the file aside, or choose another with --db / LLMBOX_DB",
        )
    if write:
        _check_writable(path, shown)


def _head(path: Path) -> bytes | None:
    """The file's first 16 bytes; None when there is no file (or it cannot be read)."""
    try:
        with path.open("rb") as f:
            return f.read(len(_SQLITE_MAGIC))
    except OSError:
        return None


def _check_writable(path: Path, shown: str) -> None:
    """The file, and its directory (made now if need be, as the open would), must be writable
    (SQLite keeps the write-ahead log beside the file), on a disk with room."""
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(
            f"cannot open the history database {shown}: {err.strerror or err}",
            hint="check that the directory exists and is writable, or choose --db",
        ) from None
    for where in (path, folder) if path.exists() else (folder,):
        if not os.access(where, os.W_OK):
            raise StoreError(
                f"cannot write the history database {shown}: {where} is not writable",
                hint="check the file and its directory are writable, or choose --db",
            )
    if disk_full(folder):
        raise disk_full_error(shown, folder, "no space left on device")


def disk_full(folder: Path) -> bool:
    """Less room on ``folder``'s disk than one saved run takes (~32 KiB)."""
    try:
        disk = os.statvfs(folder)
        # (a filesystem of no blocks, /proc's say, is not a disk: its own error will say why)
        return disk.f_blocks > 0 and disk.f_bavail * disk.f_frsize < 64 * 1024
    except (OSError, AttributeError):  # statvfs: not on Windows
        return False


def disk_full_error(shown: str, folder: Path, text: str) -> StoreError:
    return StoreError(
        f"the history database {shown} cannot be used: its disk is full ({text})",
        hint=f"free some space (df -h {folder}), or choose --db",
    )
