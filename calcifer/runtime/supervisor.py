"""The manager process of a multi-worker gateway: stop signals, dead workers, a dead shared-state process.

Sanic's `WorkerManager` (sanic 25.x) starts the workers and stops them at SIGTERM, but
- it never replaces a worker that died: the gateway silently goes on with fewer;
- it acts on a signal inside the handler, interrupting whatever the manager was doing: a stop
  while it waits for the workers to come up re-sends its own message forever (spinning), and one
  that lands in the middle of a call to the shared-state process breaks that connection.

So the manager's SIGTERM and SIGINT handlers only record the request, and a thread acts on it and
on deaths, always through the manager's own message pipe, which its main loop reads once every
worker is up (a stop during start-up therefore takes effect when the workers are ready):
- a stop request becomes the manager's `__TERMINATE__` message (the graceful stop);
- a worker that died is logged and restarted by name;
- the death of Sanic's shared-state process (the `multiprocessing` manager holding the workers'
  states) is logged, and the workers are stopped: the manager cannot run without it, so the
  gateway exits with status 1 for its supervisor (systemd, Docker) to start it again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn

from loguru import logger

from calcifer.telemetry.metrics import forget_process

__all__ = ["Supervisor"]

_POLL_SECONDS = 0.2
_RESTART_INTERVAL_SECONDS = 2.0
"""A worker that keeps dying is restarted at most this often."""
_FINAL_STATES = ("TERMINATED", "JOINED")
"""States of a worker the manager stopped on purpose: not to be restarted."""


class Supervisor:
    def __init__(self, grace_seconds: float) -> None:
        self._grace_seconds = grace_seconds
        self._stop = threading.Event()
        self._stop_signal = ""
        self._shared_state_lost = False
        self._lost_lock = threading.Lock()
        self._manager: Any = None
        self._shared_state: list[BaseProcess] = []
        self._restarted: dict[str, tuple[int, float]] = {}

    def take_signals(self) -> None:
        """Record SIGTERM and SIGINT from now on (call before Sanic starts anything)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)

    def attach(self, manager: Any) -> None:
        """Call with Sanic's WorkerManager before it starts the workers (`main_process_ready`)."""
        self._manager = manager
        # The only multiprocessing child so far: Sanic's shared-state process.
        self._shared_state = multiprocessing.active_children()
        self.take_signals()  # the WorkerManager installed its own
        threading.Thread(target=self._run, name="calcifer-supervisor", daemon=True).start()

    def shared_state_lost(self) -> bool:
        """Whether Sanic's shared-state process has died; the first to see it logs it and tells
        the workers to stop (the supervisor's thread, or the main thread once the manager failed)."""
        with self._lost_lock:
            if self._shared_state_lost:
                return True
            dead = [p for p in self._shared_state if not p.is_alive()]
            if not dead or self._stop.is_set():
                return False
            self._shared_state_lost = True
        logger.error(
            "Sanic's shared-state process (pid {}) ended ({}): the manager cannot go on without it; "
            "stopping the gateway",
            dead[0].pid,
            _how_it_ended(dead[0].exitcode),
        )
        for process in self._worker_processes():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # each worker stops gracefully
        return True

    def _request_stop(self, signum: int, frame: object) -> None:
        # A signal handler: no logging, no I/O (it may interrupt either).
        self._stop_signal = self._stop_signal or signal.Signals(signum).name
        self._stop.set()

    def _run(self) -> None:
        while not self._workers_up():
            if self.shared_state_lost():
                return
            dead = [p for p in self._worker_processes() if p.pid is not None and not p.is_alive()]
            if dead:
                self._abandon_start_up(dead[0])
            time.sleep(_POLL_SECONDS)
        while not self._stop.wait(_POLL_SECONDS):
            if self.shared_state_lost():
                return
            self._replace_dead_workers()
        logger.info("{} received: stopping the workers", self._stop_signal)
        self._manager.monitor_publisher.send("__TERMINATE__")

    def _workers_up(self) -> bool:
        try:
            states = [s.get("state") for s in self._manager.worker_state.values() if s.get("server")]
        except (OSError, EOFError):
            return False
        return len(states) == self._manager.num_server and all(state == "ACKED" for state in states)

    def _replace_dead_workers(self) -> None:
        for process in self._worker_processes():
            if process.pid is None or process.is_alive() or process.state.name in _FINAL_STATES:
                continue
            pid, restarted_at = self._restarted.get(process.name, (0, 0.0))
            if pid == process.pid or time.monotonic() - restarted_at < _RESTART_INTERVAL_SECONDS:
                continue  # asked already, or dying again at once: not faster than the interval
            logger.error(
                "worker {} (pid {}) died ({}); starting a new one",
                process.name,
                process.pid,
                _how_it_ended(process.exitcode),
            )
            self._restarted[process.name] = (process.pid, time.monotonic())
            forget_process(process.pid)  # its in-flight gauge would count forever
            self._manager.monitor_publisher.send(process.name)  # the manager restarts it by name

    def _abandon_start_up(self, dead: Any) -> NoReturn:
        """A worker ended before every worker was up (a Ctrl-C reaches the workers too, a worker
        failed to start): Sanic's manager would wait 30 s for it, then SIGKILL the whole process
        group, its own caller's too. Stop every child here instead, and exit."""
        logger.log(
            "INFO" if self._stop.is_set() else "ERROR",
            "worker {} (pid {}) ended before the gateway was up ({}): stopping every process",
            dead.name,
            dead.pid,
            _how_it_ended(dead.exitcode),
        )
        workers = [p for p in self._worker_processes() if p.pid is not None and p.is_alive()]
        for process in workers:
            os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace_seconds + 1
        while any(p.is_alive() for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for process in workers:
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
        for shared_state in self._shared_state:
            shared_state.terminate()
        os._exit(0 if self._stop.is_set() else 1)

    def _worker_processes(self) -> list[Any]:
        return [process for worker in list(self._manager.transient.values()) for process in worker.processes]


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"


