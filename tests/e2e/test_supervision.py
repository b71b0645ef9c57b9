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
from typing import Any

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import ROOT, GatewayProcess

ECHO_CATALOG = (ROOT / "catalog" / "echo.yaml").read_text()
FLAKY = """
  vendor:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 2, cooldown_seconds: 120}}
models:
  flaky:
    provider: vendor
    pricing: {{input: 1, output: 1}}
"""
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
        child for child in descendants(pid) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    }


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    catalog = ECHO_CATALOG.replace("models:\n", FLAKY.format(url=upstream.base_url), 1)
    env = {"CALCIFER_MASTER_KEY": MASTER_KEY, "FAKE_OPENAI_KEY": UPSTREAM_KEY}
    process = GatewayProcess(tmp_path, catalog, env=env, workers=WORKERS).start()
    yield process
    process.stop()


def answering_workers(
    gateway: GatewayProcess, excluding: set[int], within: float
) -> dict[int, dict[str, Any]]:
    """`/health?detail=1` by worker pid, over new connections until WORKERS workers not in
    `excluding` have answered (or the time is up)."""
    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + within
    while len(seen.keys() - excluding) < WORKERS and time.monotonic() < deadline:
        try:
            detail = gateway.health_detail(new_connection=True)
        except (httpx.HTTPError, AssertionError):  # the dead worker's connections fail until it is replaced
            time.sleep(0.1)
            continue
        seen[int(detail["worker_pid"])] = detail
    return {pid: detail for pid, detail in seen.items() if pid not in excluding}


def breaker(detail: dict[str, Any]) -> str:
    return str(next(d["breaker"] for d in detail["deployments"] if d["upstream_model"] == "flaky"))


def test_a_killed_worker_is_logged_and_replaced_and_open_breakers_stay_open(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    workers = set(answering_workers(gateway, set(), within=20))
    assert len(workers) == WORKERS
    upstream.script_model("flaky", Behaviour(status=500), Behaviour(status=500))
    body = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=gateway.url, timeout=10) as one_connection:
        assert {one_connection.post("/v1/chat/completions", json=body).status_code for _ in range(2)} == {502}
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    serving = answering_workers(gateway, {victim}, within=45)  # a new worker starts slowly on a busy machine
    assert len(serving) == WORKERS, serving  # two workers again, neither of them the dead one
    died = [line for line in gateway.log().splitlines() if f"pid {victim}" in line]
    assert died and "SIGKILL" in died[0], gateway.log()
    assert gateway._process is not None and gateway._process.poll() is None
    (replacement,) = serving.keys() - workers
    assert breaker(serving[replacement]) == "open"  # the new worker shares the machine's breaker table


def test_the_death_of_the_shared_state_process_stops_the_gateway_cleanly(gateway: GatewayProcess) -> None:
    workers = set(answering_workers(gateway, set(), within=20))
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
    log = start_then_stop(tmp_path, MOMENTS[moment](), lambda manager: manager.send_signal(signal.SIGTERM))
    assert "Traceback" not in log


def test_ctrl_c_while_the_workers_start_ends_every_process(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: workers that are still starting die
    of it. Sanic's manager would wait 30 s for them, then SIGKILL the group."""
    start_then_stop(
        tmp_path, _spawned_at_least(1 + WORKERS), lambda manager: os.killpg(manager.pid, signal.SIGINT)
    )


def start_then_stop(
    tmp_path: Path, reached: Callable[[int, str], bool], stop: Callable[[subprocess.Popen[bytes]], None]
) -> str:
    """Start a gateway, `stop` it when `reached`; assert the manager and every process it started
    have ended within 15 s. The gateway's log."""
    config = GatewayProcess(tmp_path, ECHO_CATALOG, workers=WORKERS)  # writes the files, not started
    log = config.log_path.open("wb")
    manager = subprocess.Popen(
        [sys.executable, "-m", "calcifer", "serve", "--config", str(tmp_path / "config.yaml")],
        cwd=ROOT, env=config.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    tree: set[int] = set()
    deadline = time.monotonic() + 30
    while not reached(manager.pid, config.log()) and time.monotonic() < deadline:
        tree |= descendants(manager.pid)
        time.sleep(0.02)
    stop(manager)
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
    return config.log()
