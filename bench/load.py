"""The scenarios and their load on one target: wrk for plain requests, the stream client for streams."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import orjson

from bench.processes import ROOT, Service, cpu_seconds, process_tree, rss_mb, worker_pids
from bench.stream_client import run_streams

MODEL = "bench-model"


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "plain" (wrk), "stream", "paced"
    concurrency: int
    chunks: int = 50
    delay_ms: int = 0
    per_worker: int = 1


SCENARIOS = [
    Scenario("non-stream c=1", "plain", 1),
    Scenario("non-stream c=16", "plain", 16),
    Scenario("non-stream c=64", "plain", 64),
    Scenario("50-chunk stream c=1", "stream", 1, per_worker=200),
    Scenario("50-chunk stream c=32", "stream", 32, per_worker=20),
    Scenario("paced stream c=100", "paced", 100, delay_ms=20),
    Scenario("paced stream c=500", "paced", 500, delay_ms=20),
    Scenario("paced stream c=1000", "paced", 1000, delay_ms=20),
]
# the three scenarios the floor targets are stated on
QUICK = ["non-stream c=1", "non-stream c=64", "50-chunk stream c=1"]


@dataclass
class Target:
    """Where one measurement sends its load; `service` is the process behind it, if we started it."""

    name: str
    url: str
    service: Service | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Measurement:
    scenario: str
    target: str
    round: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float | None = None
    cpu_ms_per_request: float | None = None
    rss_mb: float | None = None
    rss_peak_mb: float | None = None


# --- wrk -------------------------------------------------------------------------------

_WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, req/s, p50/p99 (ms) and errors from `wrk --latency` output."""
    latencies = {int(p): float(v) * _UNITS[u] for p, v, u in _WRK_LATENCY.findall(output)}
    requests = int(_search(r"(\d+) requests in", output))
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {"requests": requests, "rps": rps, "p50": latencies[50], "p99": latencies[99], "errors": errors}


def _search(pattern: str, output: str) -> str:
    found = re.search(pattern, output)
    if found is None:
        raise ValueError(f"wrk output without {pattern!r}:\n{output}")
    return found.group(1)


def run_wrk(target: Target, scenario: Scenario, seconds: float) -> dict[str, float]:
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say ok"}]})
    headers = [arg for key, value in target.headers.items() for arg in ("-H", f"{key}: {value}")]
    command = [
        "wrk",
        "-t1",
        f"-c{scenario.concurrency}",
        f"-d{int(seconds)}s",
        "--latency",
        *headers,
        "-s",
        str(ROOT / "bench" / "post.lua"),
        target.url + "/chat/completions",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "BENCH_BODY": body}, check=True
    )
    return parse_wrk(result.stdout)


# --- streams -----------------------------------------------------------------------------


def run_stream_load(target: Target, scenario: Scenario) -> tuple[dict[str, float], float | None]:
    body = orjson.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say ok"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "bench_chunks": scenario.chunks,
            "bench_delay_ms": scenario.delay_ms,
        }
    )
    per_worker = scenario.per_worker if scenario.kind == "stream" else 2
    stats = asyncio.run(
        run_streams(
            target.url + "/chat/completions",
            body,
            concurrency=scenario.concurrency,
            per_worker=per_worker,
            expected_events=scenario.chunks + 2,
            headers=target.headers,
        )
    )
    done = stats.completed
    totals = sorted(r.total * 1000 for r in done) or [0.0]
    ttfbs = sorted(r.ttfb * 1000 for r in done) or [0.0]
    summary = {
        "requests": len(stats.results),
        "rps": len(done) / stats.elapsed if stats.elapsed else 0.0,
        "p50": percentile(totals, 50),
        "p99": percentile(totals, 99),
        "errors": stats.errors,
    }
    return summary, percentile(ttfbs, 50)


def percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


# --- one measurement ------------------------------------------------------------------------


class RssSampler:
    """Peak RSS of the workers while a scenario runs."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, max((rss_mb(p) for p in self._pids), default=0.0))
            time.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def warm_up(target: Target) -> None:
    """A second of light load first: connection pools filled, every worker up and accepting."""
    run_wrk(target, Scenario("warm-up", "plain", 8), 1)


def measure(target: Target, scenario: Scenario, round_number: int, seconds: float) -> Measurement:
    warm_up(target)
    pids = process_tree(target.service.pid) if target.service else []
    workers = worker_pids(target.service.pid) if target.service else []
    cpu_before = cpu_seconds(pids)
    with RssSampler(workers) as sampler:
        if scenario.kind == "plain":
            summary, ttfb = run_wrk(target, scenario, seconds), None
        else:
            summary, ttfb = run_stream_load(target, scenario)
    cpu = cpu_seconds(pids) - cpu_before
    requests = int(summary["requests"])
    return Measurement(
        scenario=scenario.name,
        target=target.name,
        round=round_number,
        requests=requests,
        errors=int(summary["errors"]),
        rps=summary["rps"],
        p50_ms=summary["p50"],
        p99_ms=summary["p99"],
        ttfb_p50_ms=ttfb,
        cpu_ms_per_request=(cpu * 1000 / requests) if (pids and requests) else None,
        rss_mb=max((rss_mb(p) for p in workers), default=None) if workers else None,
        rss_peak_mb=sampler.peak or None,
    )
