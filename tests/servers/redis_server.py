"""A real Redis (or Valkey) for tests on 127.0.0.1, with its own data directory.

    server = start_redis()             # server.url is ready: redis://127.0.0.1:<port>/0
    server.stop(); server.start()      # same port, same data (append-only file) back
    server.close()                     # stop and delete the data directory
"""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

from tests.servers._process import (
    find_binary,
    free_port,
    make_workdir,
    remove_dir,
    spawn,
    stop_process,
    wait_until,
)

_INSTALL_HINT = "install Redis >= 7 or Valkey (Debian: apt-get install redis-server), or run scripts/test"


class RedisServer:
    """One Redis server. Writes go to an append-only file (no fsync), so a restart keeps them."""

    def __init__(self, parent: Path | None = None) -> None:
        self.binary = find_binary(["redis-server", "valkey-server"], [], _INSTALL_HINT)
        self.workdir = make_workdir("calcifer-redis-", parent)
        self.log = self.workdir / "redis.log"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (again) on the same port and data directory; returns once it answers PING."""
        if self.running:
            return
        self._process = spawn([
            str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--daemonize", "no", "--protected-mode", "no", "--save", "",
            "--appendonly", "yes", "--appendfsync", "no", "--logfile", "",
        ], self.log)
        wait_until(self._answers_ping, self._process, self.log, "Redis")

    def stop(self, *, immediate: bool = False) -> None:
        """Graceful stop (append-only file flushed); `immediate` kills it like a crash."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL if immediate else signal.SIGTERM)
            self._process = None

    def close(self) -> None:
        self.stop()
        remove_dir(self.workdir)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")  # "-LOADING" while it reads its data
        except OSError:
            return False


def start_redis(parent: Path | None = None) -> RedisServer:
    """A new server, started. Call `close()` when done."""
    server = RedisServer(parent)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server
