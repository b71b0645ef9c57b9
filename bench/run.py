"""Run every benchmark scenario directly against the fake upstream and through Calcifer.

    python -m bench.run                  # 2 rounds, 5 s per measurement
    python -m bench.run --quick          # a smoke run: 1 round, short, few scenarios
    python -m bench.run --compare litellm

Layout on this 2-core machine: the fake upstream, the load generators (wrk, and the
asyncio stream client in this process) share CPU 1; a one-worker gateway is pinned to
CPU 0; a two-worker gateway may use both CPUs (it then competes with the load, which
is stated in the report). Targets are measured in turn, interleaved, within each round;
the report gives medians over rounds and the gateway's added latency against the
direct measurement of the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.processes import ROOT, Service, cpu_seconds, process_tree, python, rss_mb, worker_pids
from bench.stream_client import run_streams

UPSTREAM_PORT, GATEWAY_PORT, COMPARE_PORT = 9100, 9200, 9300
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
QUICK = ["non-stream c=1", "50-chunk stream c=1", "paced stream c=100"]


@dataclass
class Target:
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


# --- load generation -----------------------------------------------------------------

_WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, req/s, p50/p99 (ms) and errors from `wrk --latency` output."""
    latencies = {int(p): float(v) * _UNITS[u] for p, v, u in _WRK_LATENCY.findall(output)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {"requests": requests, "rps": rps, "p50": latencies[50], "p99": latencies[99], "errors": errors}


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


# --- targets ---------------------------------------------------------------------------


def gateway_service(workdir: Path, workers: int, cpus: str | None, log_level: str) -> Service:
    port = GATEWAY_PORT + workers
    (workdir / "catalog.yaml").write_text(
        "providers:\n  bench:\n    kind: openai\n    api_key_env: BENCH_UPSTREAM_KEY\n"
        f"    base_url: http://127.0.0.1:{UPSTREAM_PORT}/v1\n    max_retries: 0\n    timeout: 120\n"
        f"models:\n  {MODEL}:\n    provider: bench\n"
        "    pricing: {input: 2.50, cached_input: 1.25, output: 10.00}\n"
    )
    (workdir / "config.yaml").write_text(
        f"server:\n  host: 127.0.0.1\n  port: {port}\n  workers: {workers}\n  keep_alive_timeout: 75\n"
        f"logging:\n  level: {log_level}\n  format: json\ncatalog:\n  path: catalog.yaml\n"
    )
    return Service(
        f"calcifer-{workers}w",
        [python(), "-m", "calcifer", "serve", "--config", str(workdir / "config.yaml")],
        f"http://127.0.0.1:{port}/health",
        cpus=cpus,
        env={"BENCH_UPSTREAM_KEY": "bench"},
        log=workdir / f"gateway-{workers}w.log",
    )


def compare_service(name: str, workdir: Path) -> tuple[Service, dict[str, str]]:
    """A plugin script starts another gateway; it prints `URL=...` and optional `HEADER=k: v`."""
    plugin = ROOT / "bench" / "plugins" / f"{name}.sh"
    result = subprocess.run(
        ["bash", str(plugin), "prepare", str(workdir), str(UPSTREAM_PORT), str(COMPARE_PORT)],
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    headers = dict([values["HEADER"].split(": ", 1)]) if "HEADER" in values else {}
    command = ["bash", str(plugin), "run", str(workdir), str(UPSTREAM_PORT), str(COMPARE_PORT)]
    return Service(name, command, values["HEALTH"], cpus="0", log=workdir / f"{name}.log"), headers


# --- report ------------------------------------------------------------------------------


def summarize(measurements: list[Measurement]) -> list[dict[str, Any]]:
    rows = []
    keys = sorted(
        {(m.scenario, m.target) for m in measurements},
        key=lambda k: ([s.name for s in SCENARIOS].index(k[0]), k[1] != "direct", k[1]),
    )
    for scenario, target in keys:
        runs = [m for m in measurements if (m.scenario, m.target) == (scenario, target)]
        direct = [m for m in measurements if (m.scenario, m.target) == (scenario, "direct")]

        def med(attr: str, items: list[Measurement] = runs) -> float | None:
            values = [getattr(m, attr) for m in items if getattr(m, attr) is not None]
            return statistics.median(values) if values else None

        added = [m.p50_ms - d.p50_ms for m in runs for d in direct if d.round == m.round]
        added_ttfb = [
            m.ttfb_p50_ms - d.ttfb_p50_ms
            for m in runs
            for d in direct
            if d.round == m.round and m.ttfb_p50_ms is not None and d.ttfb_p50_ms is not None
        ]
        rows.append(
            {
                "scenario": scenario,
                "target": target,
                "rps": med("rps"),
                "p50_ms": med("p50_ms"),
                "p99_ms": med("p99_ms"),
                "ttfb_p50_ms": med("ttfb_p50_ms"),
                "added_p50_ms": statistics.median(added) if target != "direct" and added else None,
                "added_ttfb_ms": statistics.median(added_ttfb) if target != "direct" and added_ttfb else None,
                "cpu_ms_per_request": med("cpu_ms_per_request"),
                "rss_mb": med("rss_mb"),
                "rss_peak_mb": med("rss_peak_mb"),
                "errors": sum(m.errors for m in runs),
                "requests": sum(m.requests for m in runs),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], boots: dict[str, list[float]], idle: dict[str, float]) -> str:
    def fmt(value: float | None, digits: int = 2) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| scenario | target | req/s | p50 ms | p99 ms | TTFB p50 ms | added p50 ms | added TTFB ms "
        "| CPU ms/req | RSS MB (peak) | errors |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        rss = "–" if r["rss_mb"] is None else f"{r['rss_mb']:.0f} ({r['rss_peak_mb'] or 0:.0f})"
        lines.append(
            f"| {r['scenario']} | {r['target']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'])} | "
            f"{fmt(r['p99_ms'])} | {fmt(r['ttfb_p50_ms'])} | {fmt(r['added_p50_ms'])} | "
            f"{fmt(r['added_ttfb_ms'])} | {fmt(r['cpu_ms_per_request'], 3)} | {rss} | {r['errors']} |"
        )
    lines.append("")
    for name, values in boots.items():
        lines.append(
            f"- {name}: boot to first healthy response {statistics.median(values):.2f} s "
            f"(median of {len(values)}); idle RSS per worker {idle.get(name, 0):.0f} MB"
        )
    return "\n".join(lines)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("wrk is missing; installing Debian's wrk", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk measurement")
    parser.add_argument("--quick", action="store_true", help="one short round of three scenarios")
    parser.add_argument("--scenario", action="append", help="run only these scenarios (by name)")
    parser.add_argument("--compare", action="append", default=[], help="also measure bench/plugins/NAME.sh")
    parser.add_argument("--log-level", default="WARNING", help="gateway log level (INFO logs every request)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    chosen = args.scenario or (QUICK if args.quick else [s.name for s in SCENARIOS])
    scenarios = [s for s in SCENARIOS if s.name in chosen]
    if any(s.kind == "plain" for s in scenarios):
        ensure_wrk()
    os.sched_setaffinity(0, {1})  # the load generators' core
    workdir = Path(tempfile.mkdtemp(prefix="calcifer-bench-"))
    upstream = Service(
        "upstream",
        [python(), "-m", "bench.fake_upstream", "--port", str(UPSTREAM_PORT)],
        f"http://127.0.0.1:{UPSTREAM_PORT}/health",
        cpus="1",
        log=workdir / "upstream.log",
    ).start()
    targets = [Target("direct", f"http://127.0.0.1:{UPSTREAM_PORT}/v1")]
    # explicit: this process pinned itself to CPU 1, and children inherit that
    gateways = {"calcifer-1w": (1, "0"), "calcifer-2w": (2, "0,1")}
    for name in args.compare:
        targets.append(Target(name, f"http://127.0.0.1:{COMPARE_PORT}/v1"))
    measurements: list[Measurement] = []
    boots: dict[str, list[float]] = {}
    idle: dict[str, float] = {}
    compare_headers: dict[str, dict[str, str]] = {}
    try:
        for round_number in range(1, args.rounds + 1):
            round_targets = list(targets)
            for name, (workers, _cpus) in gateways.items():
                round_targets.append(Target(name, f"http://127.0.0.1:{GATEWAY_PORT + workers}/v1"))
            for scenario in scenarios:
                for target in round_targets:
                    target = _started(target, args, workdir, gateways, boots, idle, compare_headers)
                    try:
                        result = measure(target, scenario, round_number, args.seconds)
                    finally:
                        if target.service:
                            target.service.stop()
                    measurements.append(result)
                    print(
                        f"round {round_number} {scenario.name:<22} {target.name:<12} "
                        f"{result.rps:9.0f} req/s  p50 {result.p50_ms:8.2f} ms  errors {result.errors}",
                        flush=True,
                    )
    finally:
        upstream.stop()
    rows = summarize(measurements)
    table = markdown(rows, boots, idle)
    args.out.write_text(
        json.dumps(
            {
                "rows": rows,
                "boot_seconds": boots,
                "idle_rss_mb": idle,
                "measurements": [asdict(m) for m in measurements],
            },
            indent=1,
        )
    )
    print("\n" + table)


def _started(
    target: Target,
    args: argparse.Namespace,
    workdir: Path,
    gateways: dict[str, tuple[int, str | None]],
    boots: dict[str, list[float]],
    idle: dict[str, float],
    compare_headers: dict[str, dict[str, str]],
) -> Target:
    """A fresh process for each measurement, so no run inherits another's warm state or memory."""
    if target.name == "direct":
        return target
    if target.name in gateways:
        workers, cpus = gateways[target.name]
        service = gateway_service(workdir, workers, cpus, args.log_level).start()
    else:
        service, headers = compare_service(target.name, workdir)
        compare_headers[target.name] = headers
        service.start(timeout=120)
    boots.setdefault(target.name, []).append(service.boot_seconds)
    time.sleep(0.3)
    idle[target.name] = max(rss_mb(p) for p in worker_pids(service.pid))
    return Target(target.name, target.url, service, compare_headers.get(target.name, {}))


if __name__ == "__main__":
    main()
