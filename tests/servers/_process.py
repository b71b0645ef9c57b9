"""What both test servers share: finding binaries, free ports, throw-away directories, readiness."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1


class ServerUnavailable(RuntimeError):
    """The server binary is missing or the server did not start; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unprivileged_user() -> pwd.struct_passwd | None:
    """As root, the user the servers run as (PostgreSQL refuses root); otherwise None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerUnavailable("running as root, but neither a 'postgres' nor a 'nobody' user exists")


def make_workdir(prefix: str, parent: Path | None) -> Path:
    """A fresh directory the server's user can write. As root it is made under the system temp dir
    (pytest's own temp dirs are 0700 root, which the unprivileged user cannot enter)."""
    user = unprivileged_user()
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=None if user else parent))
    if user:
        os.chown(workdir, user.pw_uid, user.pw_gid)
    return workdir


def _die_with_parent() -> None:
    # Runs in the child after the user switch: if the test process dies (kill -9, crash), the
    # kernel stops the server too, so no test run leaves a server behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    user = unprivileged_user()
    with open(log, "ab") as out:
        if user:
            os.chown(log, user.pw_uid, user.pw_gid)
        return subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            extra_groups=[] if user else None, preexec_fn=_die_with_parent,
        )


def run_as_server_user(argv: Sequence[str]) -> None:
    user = unprivileged_user()
    result = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, check=False,
        user=user.pw_uid if user else None, group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise ServerUnavailable(f"{argv[0]} failed ({result.returncode}):\n{output}")


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process, signal.SIGKILL)
            tail = log.read_text(errors="replace")[-3000:]
            raise ServerUnavailable(f"{what} did not start (exit {process.returncode}); its log:\n{tail}")
        time.sleep(0.02)


def stop_process(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def find_binary(names: Sequence[str], search_dirs: Sequence[Path], hint: str) -> Path:
    for directory in search_dirs:
        for name in names:
            if (directory / name).is_file():
                return directory / name
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ServerUnavailable(f"no {' or '.join(names)} binary found; {hint}")
