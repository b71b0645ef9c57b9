"""Run every benchmark scenario against the fake upstream directly, through the floor, and through Calcifer.

    python -m bench.run                  # 2 rounds, 5 s per measurement
    python -m bench.run --quick          # a smoke run: 1 round, short, the three scenarios of the targets
    python -m bench.run --column calcifer-1w --column calcifer-1w-warning
    python -m bench.run --compare litellm
    python -m bench.run --column calcifer-1w --column calcifer-1w-keys   # see docs/performance.md

Columns: `direct` (the fake upstream itself), `floor` (bench/floor.py, a bare Sanic + aiohttp
forwarder), Calcifer with the shipped config.yaml (`calcifer-1w`), the same with its provider on
`transport: aiohttp`, at WARNING (the c=1 scenarios only: the request log line's cost), and with
two workers; on request (`--column`), with keys, a budget, an rpm limit and the ledger (issue
11): `calcifer-1w-keys`, `calcifer-2w-keys` (embedded SQLite store) and `calcifer-1w-pg-redis`
(PostgreSQL + Redis, started by the bench). Layout on this 2-core machine: the fake upstream
and the load generators (wrk, and the asyncio stream client in this process) share CPU 1; the
floor and one-worker gateways are pinned to CPU 0; a two-worker gateway may use both CPUs (it
then competes with the load).
Columns are measured in turn, interleaved, within each round (their order turning from round to
round); the report gives medians over rounds, and latency added against the direct measurement
of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.access_report import access_targets
from bench.columns import (
    CALCIFER_VARIANTS,
    COLUMN_NAMES,
    GATEWAY_PORT,
    UPSTREAM_PORT,
    Column,
    Skipped,
    bench_catalog,
    calcifer_column,
    compare_column,
    direct_column,
    floor_column,
    shipped_summary,
)
from bench.load import QUICK, SCENARIOS, Measurement, Scenario, Target, measure
from bench.processes import ROOT, Service, python, rss_mb, worker_pids
from bench.report import Report, check_targets, log_line_cost, render, summarize


def main() -> None:
    args = _arguments()
    chosen = args.scenario or (QUICK if args.quick else [s.name for s in SCENARIOS])
    unknown = set(chosen) - {s.name for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if s.name in chosen]
    ensure_wrk()  # every scenario needs it: it warms each target up
    os.sched_setaffinity(0, {1})  # the load generators' core
    workdir = Path(tempfile.mkdtemp(prefix="calcifer-bench-"))
    columns, skipped = build_columns(args, workdir)
    setups = {column.name: column.setup for column in columns}
    notes = [_catalog_note(), *(f"{s.name}: skipped, {s.reason}" for s in skipped)]
    for line in [*notes, *(f"{name}: {setup}" for name, setup in setups.items())]:
        print(line, flush=True)
    load_before = os.getloadavg()[0]
    try:
        measurements, boots, idle = run_rounds(columns, scenarios, args.rounds, args.seconds, workdir)
    finally:
        for column in columns:
            if column.close:
                column.close()  # the servers a column started (PostgreSQL, Redis)
    notes.append(
        f"machine load average (1 min) {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end, "
        f"on {os.cpu_count()} CPUs; {args.rounds} round(s)"
        + (": one round has no median, read it as a smoke test" if args.rounds == 1 else "")
    )
    report = Report(
        rows=summarize(measurements, order=[column.name for column in columns]),
        boots=boots,
        idle=idle,
        setups=setups,
        notes=notes,
        log_line=log_line_cost(measurements),
        access=access_targets(measurements),
    )
    args.out.write_text(
        json.dumps(
            {
                "setups": setups,
                "notes": notes,
                "rows": report.rows,
                "targets": check_targets(report),
                "log_line": report.log_line,
                "access_targets": report.access,
                "boot_seconds": boots,
                "idle_rss_mb": idle,
                "measurements": [asdict(m) for m in measurements],
            },
            indent=1,
        )
    )
    print("\n" + render(report))
    print(f"raw numbers: {args.out}; configs, catalogs and logs: {workdir}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk measurement")
    parser.add_argument(
        "--quick", action="store_true", help="one short round of the targets' three scenarios"
    )
    parser.add_argument("--scenario", action="append", help="run only these scenarios (by name)")
    parser.add_argument(
        "--column",
        action="append",
        choices=COLUMN_NAMES[2:],
        help="run only these Calcifer columns (direct and floor always run)",
    )
    parser.add_argument("--compare", action="append", default=[], help="also measure bench/plugins/NAME.sh")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    return args


def build_columns(args: argparse.Namespace, workdir: Path) -> tuple[list[Column], list[Skipped]]:
    columns = [direct_column(), floor_column(workdir)]
    skipped: list[Skipped] = []
    for index, variant in enumerate(CALCIFER_VARIANTS, start=1):
        if variant.name not in args.column if args.column else not variant.default:
            continue
        column = calcifer_column(variant, workdir, GATEWAY_PORT + index)
        if isinstance(column, Skipped):
            skipped.append(column)
        else:
            columns.append(column)
    columns += [compare_column(name, workdir) for name in args.compare]
    return columns, skipped


def _catalog_note() -> str:
    provider = bench_catalog(None).split("providers:")[1].split("models:")[0]
    settings = ", ".join(line.strip() for line in provider.splitlines()[2:] if line.strip())
    return (
        f"Calcifer columns run the shipped config.yaml ({shipped_summary()}); only the catalog is the "
        f"bench's: one provider `bench` ({settings}), every other provider setting the catalog's default"
    )


def run_rounds(
    columns: list[Column], scenarios: list[Scenario], rounds: int, seconds: float, workdir: Path
) -> tuple[list[Measurement], dict[str, list[float]], dict[str, float]]:
    upstream = Service(
        "upstream",
        [python(), "-m", "bench.fake_upstream", "--port", str(UPSTREAM_PORT)],
        f"http://127.0.0.1:{UPSTREAM_PORT}/health",
        cpus="1",
        log=workdir / "upstream.log",
    ).start()
    measurements: list[Measurement] = []
    boots: dict[str, list[float]] = {}
    idle: dict[str, float] = {}
    try:
        for round_number in range(1, rounds + 1):
            for scenario in scenarios:
                for column in columns_in_turn(columns, round_number):
                    if not column.runs(scenario.name):
                        continue
                    target = _started(column, boots, idle)
                    try:
                        result = measure(target, scenario, round_number, seconds)
                    finally:
                        if target.service:
                            target.service.stop()
                    measurements.append(result)
                    print(
                        f"round {round_number} {scenario.name:<22} {column.name:<20} "
                        f"{result.rps:9.0f} req/s  p50 {result.p50_ms:8.2f} ms  errors {result.errors}",
                        flush=True,
                    )
    finally:
        upstream.stop()
    return measurements, boots, idle


def columns_in_turn(columns: list[Column], round_number: int) -> list[Column]:
    """Direct first (the others' added latency is against it); the rest in an order that turns each
    round, so no column always follows the same neighbour. A column measured `beside` another runs
    right after it in odd rounds and right before it in even ones."""
    paired: dict[str, list[Column]] = {}
    for column in columns:
        if column.beside:
            paired.setdefault(column.beside, []).append(column)
    rest = [column for column in columns[1:] if not column.beside]
    shift = (round_number - 1) % len(rest) if rest else 0
    order = [columns[0]]
    for column in rest[shift:] + rest[:shift]:
        pair = [column, *paired.pop(column.name, [])]
        order += pair if round_number % 2 else pair[::-1]
    # a partner left out by --column: its twins still run
    return order + [column for twins in paired.values() for column in twins]


def _started(column: Column, boots: dict[str, list[float]], idle: dict[str, float]) -> Target:
    """A fresh process for each measurement, so no run inherits another's warm state or memory."""
    if column.start is None:
        return Target(column.name, column.url, headers=column.headers)
    service = column.start()
    boots.setdefault(column.name, []).append(service.boot_seconds)
    time.sleep(0.3)
    idle[column.name] = max(rss_mb(p) for p in worker_pids(service.pid))
    return Target(column.name, column.url, service, column.headers)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("wrk is missing; installing Debian's wrk", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


if __name__ == "__main__":
    main()
