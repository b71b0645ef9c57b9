"""The manager of a multi-worker gateway: a worker that dies is logged and replaced; the death of
Sanic's shared-state process stops the gateway cleanly; a stop at any moment of start-up ends
every process of the tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway_process import ROOT, GatewayProcess

ECHO_CATALOG = (ROOT / "catalog" / "echo.yaml").read_text()
MASTER_KEY = "calcifer-master-supervision"
WORKERS = 2


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = [int(child) for child in children.read_text().split()]
        except OSError:
            continue
        for child in pids:
            found |= {child, *descendants(child)}
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def spawned(pid: int) -> set[int]:
    """The manager's children started by multiprocessing (workers and the shared-state process)."""
    return {
        child
        for child in descendants(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    }


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path, ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER_KEY}, workers=WORKERS
    ).start()
    yield process
    process.stop()


def answering_workers(gateway: GatewayProcess, excluding: set[int], within: float) -> set[int]:
    """Worker pids seen answering new connections, until WORKERS of them (not in `excluding`)."""
    seen: set[int] = set()
    deadline = time.monotonic() + within
    while len(seen - excluding) < WORKERS and time.monotonic() < deadline:
        try:
            seen.add(int(gateway.health_detail(new_connection=True)["worker_pid"]))
        except (httpx.HTTPError, AssertionError):  # the dead worker's connections fail until it is replaced
            time.sleep(0.1)
    return seen - excluding


def test_a_killed_worker_is_logged_and_replaced(gateway: GatewayProcess) -> None:
    workers = answering_workers(gateway, set(), within=20)
    assert len(workers) == WORKERS
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    serving = answering_workers(gateway, {victim}, within=15)
    assert len(serving) == WORKERS, serving  # two workers again, neither of them the dead one
    died = [line for line in gateway.log().splitlines() if f"pid {victim}" in line]
    assert died and "SIGKILL" in died[0], gateway.log()
    assert gateway._process is not None and gateway._process.poll() is None


def test_the_death_of_the_shared_state_process_stops_the_gateway_cleanly(gateway: GatewayProcess) -> None:
    workers = answering_workers(gateway, set(), within=20)
    assert gateway._process is not None
    manager = gateway._process.pid
    (shared_state,) = spawned(manager) - workers
    tree = descendants(manager)
    os.kill(shared_state, signal.SIGKILL)
    gateway._process.wait(timeout=15)
    assert gateway._process.returncode == 1  # a failure: a supervisor (systemd, Docker) starts it again
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in tree if running(pid)]
    assert "shared-state process" in gateway.log() and "stopping the gateway" in gateway.log()


def _after(seconds: float) -> Callable[[int, str], bool]:
    started = time.monotonic()
    return lambda manager, log: time.monotonic() - started >= seconds


def _spawned_at_least(count: int) -> Callable[[int, str], bool]:
    return lambda manager, log: len(spawned(manager)) >= count


def _first_worker_ready(manager: int, log: str) -> bool:
    return '"worker ready' in log


MOMENTS: dict[str, Callable[[], Callable[[int, str], bool]]] = {
    "0.5 s": lambda: _after(0.5),
    "1 s": lambda: _after(1.0),
    "2 s": lambda: _after(2.0),
    "shared-state process started": lambda: _spawned_at_least(1),
    "workers spawned": lambda: _spawned_at_least(1 + WORKERS),
    "first worker ready": lambda: _first_worker_ready,
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigterm_at_any_moment_of_start_up_ends_every_process(tmp_path: Path, moment: str) -> None:
    config = GatewayProcess(tmp_path, ECHO_CATALOG, workers=WORKERS)  # writes the files, not started
    log = config.log_path.open("wb")
    manager = subprocess.Popen(
        [sys.executable, "-m", "calcifer", "serve", "--config", str(tmp_path / "config.yaml")],
        cwd=ROOT, env=config.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    tree: set[int] = set()
    reached = MOMENTS[moment]()
    deadline = time.monotonic() + 30
    while not reached(manager.pid, config.log()) and time.monotonic() < deadline:
        tree |= descendants(manager.pid)
        time.sleep(0.02)
    manager.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15  # start-up on a busy machine, then the 1 s grace period
    while (manager.poll() is None or any(running(pid) for pid in tree)) and time.monotonic() < deadline:
        tree |= descendants(manager.pid)
        time.sleep(0.05)
    stopped = manager.poll() is not None
    left = [pid for pid in tree if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if not stopped:
        manager.kill()
        manager.wait()
    assert stopped and not left, f"manager stopped: {stopped}; left running: {left}\n{config.log()}"
    assert "Traceback" not in config.log()
