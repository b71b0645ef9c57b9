"""A real PostgreSQL for tests: its own throw-away cluster on 127.0.0.1, TCP only, fsync off.

    server = start_postgres()          # initdb + start; server.url is ready to connect
    server.stop(); server.start()      # same port, same data: a database outage and its return
    server.close()                     # stop and delete the data directory
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.servers._process import (
    ServerUnavailable,
    find_binary,
    free_port,
    make_workdir,
    remove_dir,
    run_as_server_user,
    spawn,
    stop_process,
    wait_until,
)

SUPERUSER = "postgres"
MIN_VERSION = 15
_INSTALL_HINT = "install PostgreSQL >= 15 (Debian: apt-get install postgresql), or run scripts/test"


def postgres_bindir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    bindir = find_binary(["postgres"], candidates, _INSTALL_HINT).parent
    version = subprocess.run(
        [bindir / "postgres", "--version"], capture_output=True, text=True, check=True
    ).stdout  # "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    major = int(version.split(")")[1].strip().split(".")[0])
    if major < MIN_VERSION:
        raise ServerUnavailable(f"PostgreSQL {major} found in {bindir}; {_INSTALL_HINT}")
    return bindir


class PostgresServer:
    """One PostgreSQL cluster. `url` names the `postgres` database as the trusted superuser."""

    def __init__(self, parent: Path | None = None) -> None:
        self.bindir = postgres_bindir()
        self.workdir = make_workdir("calcifer-pg-", parent)
        self.datadir = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"
        self._process: subprocess.Popen[bytes] | None = None
        run_as_server_user([
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ])

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (again) on the same port and data directory; returns once it accepts queries."""
        if self.running:
            return
        self._process = spawn([
            str(self.bindir / "postgres"), "-D", str(self.datadir),
            "-h", "127.0.0.1", "-p", str(self.port), "-k", "",  # TCP only, no Unix socket
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200", "-c", "shared_buffers=32MB",
        ], self.log)
        wait_until(self._accepts_queries, self._process, self.log, "PostgreSQL")

    def stop(self, *, immediate: bool = False) -> None:
        """Fast shutdown (clients are disconnected, data kept); `immediate` is a crash-like stop."""
        if self._process is not None:
            stop_process(self._process, signal.SIGQUIT if immediate else signal.SIGINT)
            self._process = None

    def close(self) -> None:
        self.stop()
        remove_dir(self.workdir)

    def _accepts_queries(self) -> bool:
        probe = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        if not Path(probe[0]).is_file():
            probe[0] = "pg_isready"
        return subprocess.run(probe, check=False).returncode == 0


def start_postgres(parent: Path | None = None) -> PostgresServer:
    """A new cluster, started. `parent` is where its directory goes (ignored as root: see
    `make_workdir`). Call `close()` when done."""
    server = PostgresServer(parent)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server
