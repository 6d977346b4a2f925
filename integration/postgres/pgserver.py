"""A real PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temporary folder, on 127.0.0.1.

The server binaries come from PATH or from Debian's ``/usr/lib/postgresql/<version>/bin`` (the ``postgresql``
package, which ``.ci/run`` installs when they are missing). ``initdb`` refuses to run as root, and CI runs as root:
then the cluster belongs to the ``postgres`` user (Debian's package creates it; else ``nobody``) and every server
command runs through ``runuser``. The server listens on a free TCP port of 127.0.0.1 only, no Unix socket, and
trusts local connections (a throwaway cluster that lives as long as the test session).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "codetracer"


def find_bin(name: str) -> str | None:
    """The path of server program ``name`` (``initdb``, ``pg_ctl``), newest PostgreSQL first; ``None`` if absent."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One throwaway cluster. :meth:`start`, :meth:`stop` (as ``pg_ctl stop`` does, mid-run if need be),
    :meth:`start` again on the same port and data, :meth:`destroy` at the end."""

    def __init__(self, *, fsync: bool = False) -> None:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.fsync = fsync
        self.base = Path(tempfile.mkdtemp(prefix="ct-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.owner = _owner()
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._run(self.initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale", "-N")

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner is not None else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")
        return done

    @property
    def url(self) -> str:
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop``: ``fast`` ends every session at once (clients see their connection drop)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return self._run(self.pg_ctl, "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """A new empty database ``name``; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the server accepts connections (after :meth:`start` from another thread, say)."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _owner() -> str | None:
    """Who runs the server: ``None`` (this user) unless this is root, whom ``initdb`` refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no postgres or nobody user to run PostgreSQL as")
