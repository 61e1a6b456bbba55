"""A PostgreSQL server for tests, and a fresh database for each test.

Where the server comes from, in order:

1. ``TOLK_TEST_POSTGRES_URL``, else ``DATABASE_URL`` when it is a ``postgresql://`` or
   ``postgres://`` URL: that server is used as it is. Its role needs CREATEDB; tests
   only create and drop databases named ``tolk_test_*`` and never write to the
   database the URL names.
2. Otherwise, when ``initdb`` and ``pg_ctl`` are found (``PATH``, then Debian's
   ``/usr/lib/postgresql/<version>/bin``, highest version first), a throwaway cluster is
   made in a temporary directory and started on a free loopback port, once per test
   session, and stopped and deleted when the session ends. initdb refuses to run as
   root, so as root the cluster belongs to the ``postgres`` user (``runuser``). It
   trusts local connections and runs with ``fsync=off``: it holds nothing of value.
3. Otherwise the PostgreSQL tests are skipped, and the skip says why.

``fresh_database()`` gives each test an empty database of its own on that server (its
URL), and ``release_database(url)`` empties it again for the next test: making a
database takes ~0.3 s, emptying one ~20 ms. Databases rather than schemas, so that
advisory locks (per database) are the test's own too. On a server the tests did not
start, the databases they made are dropped at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

_PREFIX = "tolk-test-pg-"
_RUN_AS = ("postgres", "nobody")  # who owns the cluster when the tests run as root


class Unavailable(Exception):
    """No PostgreSQL server can be had; the message says why."""


@dataclass
class Server:
    url: str  # a superuser (or CREATEDB) URL to the maintenance database
    started_in: float = 0.0  # seconds it took to start a throwaway cluster (0: external)
    _stop: list = field(default_factory=list, repr=False)

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))


_server: Server | None = None
_unavailable: str | None = None


def server() -> Server:
    """The session's server, started on first use; ``pytest.skip`` when there is none."""
    global _server, _unavailable
    if _server is None and _unavailable is None:
        try:
            _server = _external() or _start_cluster()
        except Unavailable as exc:
            _unavailable = str(exc)
    if _server is None:
        pytest.skip(f"PostgreSQL tests skipped: {_unavailable}")
    return _server


def _external() -> Server | None:
    for name in ("TOLK_TEST_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql://", "postgres://")):
            return Server(url=url)
    return None


# --- a throwaway cluster -------------------------------------------------------------------


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/local/pgsql/bin")

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)

    for directory in sorted(candidates, key=version, reverse=True):
        if os.access(Path(directory) / "initdb", os.X_OK) and os.access(
            Path(directory) / "pg_ctl", os.X_OK
        ):
            return Path(directory)
    return None


def _run_as_prefix() -> tuple[list[str], str | None]:
    """How to run the cluster's commands: as ourselves, or (as root) as another user."""
    if os.geteuid() != 0:
        return [], None
    for user in _RUN_AS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--"], user
        if shutil.which("su"):
            return ["su", user, "-s", "/bin/sh", "-c"], user  # the command joined below
    raise Unavailable("running as root and no 'postgres' user to own a throwaway cluster")


def _command(prefix: list[str], args: list[str]) -> list[str]:
    if prefix and prefix[0] == "su":
        return [*prefix, shlex.join(args)]
    return [*prefix, *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reap_stale_clusters(bindir: Path, prefix: list[str]) -> None:
    """Stop clusters left behind by test sessions that were killed before their atexit."""
    for directory in glob.glob(os.path.join(tempfile.gettempdir(), _PREFIX + "*")):
        owner = Path(directory) / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        data = Path(directory) / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _command(
                    prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                check=False,
                timeout=60,
            )
        shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_cluster() -> Server:
    bindir = find_binaries()
    if bindir is None:
        raise Unavailable(
            "no server URL (TOLK_TEST_POSTGRES_URL or a postgresql:// DATABASE_URL) and no "
            "initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin "
            "(Debian: apt-get install postgresql)"
        )
    prefix, user = _run_as_prefix()
    _reap_stale_clusters(bindir, prefix)
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()))
    data, log = root / "data", root / "server.log"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        log.touch()
        os.chown(log, entry.pw_uid, entry.pw_gid)

    def run(args: list[str], what: str) -> None:
        done = subprocess.run(
            _command(prefix, args), capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise Unavailable(
                f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                + (f"\n{tail}" if tail else "")
            )

    run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        "initdb",
    )
    port = 0
    for _attempt in range(3):
        port = _free_port()
        conf = (
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{root}'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "max_connections = 200\n"
            "shared_buffers = 32MB\n"
        )
        # the last value of a setting wins: rewriting the port on a retry is just appending
        with open(data / "postgresql.conf", "a") as f:
            f.write(conf)
        try:
            run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                "pg_ctl start",
            )
            break
        except Unavailable:
            if "already in use" not in log.read_text(errors="replace"):
                shutil.rmtree(root, ignore_errors=True)
                raise
    else:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable("pg_ctl start: no free port after 3 attempts")

    stopped = []

    def stop() -> None:
        if stopped:
            return
        stopped.append(True)
        subprocess.run(
            _command(prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    with contextlib.suppress(ValueError):  # not the main thread: atexit is enough
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: object) -> None:
            stop()
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)
    return Server(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        started_in=time.monotonic() - began,
        _stop=[stop],
    )


# --- a database per test -------------------------------------------------------------------

_free: list[str] = []  # emptied databases, ready for the next test
_created: list[str] = []  # every database the tests made


async def fresh_database() -> str:
    """An empty database of its own (``tolk_test_<random>``) on the session's server; its
    URL. Hand it back with ``release_database`` when the test is done."""
    import asyncpg

    srv = server()
    if _free:
        return srv.database_url(_free.pop())
    name = "tolk_test_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(srv.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    except asyncpg.InsufficientPrivilegeError as exc:
        pytest.skip(f"PostgreSQL tests skipped: the test role may not create databases ({exc})")
    finally:
        await conn.close()
    if not _created:
        atexit.register(_drop_all, srv)
    _created.append(name)
    return srv.database_url(name)


async def release_database(url: str) -> None:
    """Empty the database (end its other sessions, drop everything in it) for reuse."""
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("tolk_test_"), name
    conn = await asyncpg.connect(url)
    try:
        for _ in range(200):  # a store the test left open: its sessions (and locks) go
            others = await conn.fetchval(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()"""
            )
            if not others:
                break
            await asyncio.sleep(0.01)
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await conn.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await conn.close()
    _free.append(name)


def _drop_all(srv: Server) -> None:
    """At exit, on a server we did not start: drop the databases the tests made."""
    if srv._stop:  # a throwaway cluster goes as a whole
        return
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(srv.url)
        try:
            for name in _created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    with contextlib.suppress(Exception):
        asyncio.run(drop())
