"""Start and measure the processes a benchmark compares: CPU time and RSS from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            queue.extend(int(child) for child in task.read_text().split())
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(pid: int) -> list[int]:
    """The processes that serve requests: the children of a Sanic manager, or `pid` itself."""
    tree = process_tree(pid)
    workers = [p for p in tree[1:] if _is_python(p)]
    return workers or [pid]


def _is_python(pid: int) -> bool:
    try:
        return "python" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return False


class Service:
    """A child process that answers a health URL once it is up."""

    def __init__(
        self,
        name: str,
        command: list[str],
        health_url: str,
        *,
        cpus: str | None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.name = name
        self.command = (["taskset", "-c", cpus] if cpus else []) + command
        self.health_url = health_url
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.boot_seconds = 0.0

    def start(self, timeout: float = 60) -> Service:
        if _answers(self.health_url):  # a leftover would answer for us, and be measured instead
            raise RuntimeError(f"{self.name}: something already answers {self.health_url}; stop it first")
        output = self.log.open("wb") if self.log else subprocess.DEVNULL
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
        )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start; see {self.log}")
            try:
                if httpx.get(self.health_url, timeout=0.2).status_code == 200:
                    self.boot_seconds = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not answer {self.health_url} in {timeout}s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.HTTPError:
        return False
    return True


def python() -> str:
    return sys.executable
