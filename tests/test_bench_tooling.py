"""The benchmark tooling runs and reads its own output (no timing is asserted here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from bench.access_report import access_target_lines, access_targets
from bench.columns import (
    CALCIFER_VARIANTS,
    COLUMN_NAMES,
    SHIPPED_CONFIG,
    CalciferVariant,
    Column,
    Skipped,
    calcifer_column,
    catalog_refusal,
)
from bench.fake_upstream import COMPLETION
from bench.load import Measurement, parse_wrk
from bench.processes import Service, python
from bench.report import Report, check_targets, log_line_cost, render, summarize
from bench.run import columns_in_turn
from bench.stream_client import run_streams
from tests.gateway_process import GatewayProcess, free_port

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:9200/v1/chat/completions
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   455.12us  120.01us   5.20ms   95.00%
  Latency Distribution
     50%  420.00us
     75%  480.00us
     90%  550.00us
     99%    1.20ms
  4321 requests in 2.00s, 3.10MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2160.50
Transfer/sec:      1.55MB
"""


def test_wrk_output_is_parsed() -> None:
    assert parse_wrk(WRK_OUTPUT) == {"requests": 4321, "rps": 2160.5, "p50": 0.42, "p99": 1.2, "errors": 3}


def test_summary_reports_added_latency_against_the_same_round() -> None:
    measurements = [
        Measurement("non-stream c=1", "direct", 1, 100, 0, 1000.0, 0.10, 0.2),
        Measurement("non-stream c=1", "calcifer-1w", 1, 100, 0, 900.0, 0.50, 0.9, cpu_ms_per_request=0.3),
        Measurement("non-stream c=1", "direct", 2, 100, 0, 1000.0, 0.20, 0.2),
        Measurement("non-stream c=1", "calcifer-1w", 2, 100, 0, 900.0, 0.40, 0.9, cpu_ms_per_request=0.5),
    ]
    rows = summarize(measurements)
    gateway = next(row for row in rows if row["target"] == "calcifer-1w")
    assert round(gateway["added_p50_ms"], 6) == 0.3  # median of 0.4 and 0.2
    assert gateway["cpu_ms_per_request"] == 0.4
    table = render(Report(rows, {"calcifer-1w": [0.8]}, {"calcifer-1w": 70.0}))
    assert "| non-stream c=1 | calcifer-1w |" in table


def _run(
    scenario: str, target: str, p50: float, rps: float = 1000.0, cpu: float | None = None
) -> Measurement:
    return Measurement(scenario, target, 1, 100, 0, rps, p50, p50 * 2, cpu_ms_per_request=cpu)


def test_calcifer_is_set_against_the_floor_and_the_targets_are_checked() -> None:
    measurements = [
        _run("non-stream c=1", "direct", 0.05),
        _run("non-stream c=1", "floor", 0.25),  # adds 0.20
        _run("non-stream c=1", "calcifer-1w", 0.45, cpu=0.30),  # adds 0.40: 2×, missed
        _run("non-stream c=1", "calcifer-1w-aiohttp", 0.33),  # adds 0.28: 1.4×, met
        _run("non-stream c=1", "calcifer-1w-warning", 0.42, cpu=0.26),  # the log line: 0.03 ms
        _run("non-stream c=64", "direct", 2.0, rps=20000),
        _run("non-stream c=64", "floor", 15.0, rps=4000),
        _run("non-stream c=64", "calcifer-1w", 18.0, rps=3400),  # 85%, met
        _run("non-stream c=64", "calcifer-1w-aiohttp", 25.0, rps=3000),  # 75%, missed
    ]
    report = Report(summarize(measurements), log_line=log_line_cost(measurements))
    rows = {(r["scenario"], r["target"]): r for r in report.rows}
    assert round(rows["non-stream c=1", "calcifer-1w"]["added_vs_floor"], 6) == 2.0
    assert round(rows["non-stream c=64", "calcifer-1w"]["rps_vs_floor"], 6) == 0.85
    assert rows["non-stream c=1", "floor"]["added_vs_floor"] is None
    assert round(report.log_line["non-stream c=1"]["p50_ms"] or 0, 6) == 0.03
    verdicts = {t["target"].split(":")[0]: t["columns"] for t in check_targets(report)}
    assert verdicts["non-stream c=1"]["calcifer-1w"]["met"] is False
    assert verdicts["non-stream c=1"]["calcifer-1w-aiohttp"]["met"] is True
    assert verdicts["non-stream c=64"]["calcifer-1w"]["met"] is True
    assert verdicts["non-stream c=64"]["calcifer-1w-aiohttp"]["met"] is False
    assert verdicts["50-chunk stream c=1"]["calcifer-1w"]["value"] is None  # not run: not measured
    log_line = next(columns for name, columns in verdicts.items() if name.startswith("request log line"))
    assert log_line["calcifer-1w"]["met"] is True  # 0.03 ms ≤ 0.05 ms
    table = render(report)
    assert "| non-stream c=1: added p50 ≤ 1.5× the floor's | 0.20 ms | 0.40 ms (2.00×) | missed |" in table
    assert "3,400 req/s (85%) | met" in table


def test_calcifer_runs_the_shipped_config_unchanged_with_the_bench_catalog(tmp_path: Path) -> None:
    column = calcifer_column(CalciferVariant("calcifer-1w"), tmp_path, free_port())
    assert isinstance(column, Column)
    assert (tmp_path / "calcifer-1w" / "config.yaml").read_bytes() == SHIPPED_CONFIG.read_bytes()
    assert catalog_refusal(tmp_path / "calcifer-1w" / "catalog" / "bench.yaml") is None
    assert column.setup.startswith("--port ") and ";" not in column.setup  # nothing else differs


def test_the_warning_variant_differs_from_the_shipped_config_by_its_log_level_only(tmp_path: Path) -> None:
    column = calcifer_column(CalciferVariant("quiet", log_level="WARNING"), tmp_path, free_port())
    assert isinstance(column, Column) and "logging.level WARNING" in column.setup
    written = yaml.safe_load((tmp_path / "quiet" / "config.yaml").read_text())
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    assert written["logging"].pop("level") == "WARNING"
    shipped["logging"].pop("level")
    assert written == shipped


def test_a_transport_the_catalog_refuses_skips_its_column_with_the_reason(tmp_path: Path) -> None:
    column = calcifer_column(CalciferVariant("pigeon", transport="carrier-pigeon"), tmp_path, free_port())
    assert isinstance(column, Skipped)
    assert "transport: carrier-pigeon" in column.reason
    assert "(catalog/bench.yaml:" in column.reason and "providers.bench.transport" in column.reason
    assert str(tmp_path) not in column.reason
    assert "transport: carrier-pigeon" in (tmp_path / "pigeon" / "catalog" / "bench.yaml").read_text()


def test_columns_take_turns_and_the_log_level_twins_stay_side_by_side() -> None:
    names = ["direct", "floor", "calcifer-1w", "calcifer-1w-warning", "calcifer-2w"]
    columns = [Column(name, "", beside="calcifer-1w" if "warning" in name else None) for name in names]
    orders = [
        [column.name for column in columns_in_turn(columns, round_number)] for round_number in (1, 2, 3)
    ]
    assert orders[0] == ["direct", "floor", "calcifer-1w", "calcifer-1w-warning", "calcifer-2w"]
    assert orders[1] == ["direct", "calcifer-1w-warning", "calcifer-1w", "calcifer-2w", "floor"]
    assert orders[2] == ["direct", "calcifer-2w", "floor", "calcifer-1w", "calcifer-1w-warning"]


@pytest.fixture(scope="module")
def floor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("floor")
    upstream_port, floor_port = free_port(), free_port()
    upstream = Service(
        "upstream",
        [python(), "-m", "bench.fake_upstream", "--port", str(upstream_port)],
        f"http://127.0.0.1:{upstream_port}/health",
        cpus=None,
        log=logs / "upstream.log",
    ).start()
    command = [python(), "-m", "bench.floor", "--port", str(floor_port)]
    command += ["--upstream", f"http://127.0.0.1:{upstream_port}/v1"]
    forwarder = Service(
        "floor", command, f"http://127.0.0.1:{floor_port}/health", cpus=None, log=logs / "floor.log"
    )
    try:
        forwarder.start()
        yield f"http://127.0.0.1:{floor_port}/v1"
    finally:
        forwarder.stop()
        upstream.stop()


def test_the_floor_forwards_a_completion(floor: str) -> None:
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "Say ok"}]}
    response = httpx.post(floor + "/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == COMPLETION


def test_the_floor_streams_every_chunk_through(floor: str) -> None:
    body = orjson.dumps(
        {"model": "bench-model", "messages": [], "stream": True, "bench_chunks": 7, "bench_delay_ms": 1}
    )
    stats = asyncio.run(
        run_streams(floor + "/chat/completions", body, concurrency=2, per_worker=2, expected_events=9)
    )
    assert len(stats.completed) == 4 and stats.errors == 0
    assert all(result.events == 10 for result in stats.results)  # role, 7 tokens, finish, [DONE]


def test_stream_client_counts_every_event_and_done(gateway: GatewayProcess) -> None:
    body = orjson.dumps(
        {"model": "echo4", "stream": True, "messages": [{"role": "user", "content": "a b c"}]}
    )
    stats = asyncio.run(
        run_streams(
            gateway.url + "/v1/chat/completions", body, concurrency=3, per_worker=2, expected_events=6
        )
    )
    assert len(stats.completed) == 6 and stats.errors == 0
    assert all(result.events == 7 for result in stats.results)  # role, 4 words, finish, [DONE]


def test_a_service_refuses_to_start_where_a_leftover_already_answers(gateway: GatewayProcess) -> None:
    leftover = Service("upstream", [python(), "-c", "pass"], gateway.url + "/health", cpus=None)
    with pytest.raises(RuntimeError, match="already answers"):
        leftover.start()


def test_ratios_against_the_floor_pair_the_columns_round_by_round() -> None:
    # The machine's speed drifts from round to round; in round 2 a slow moment hit only Calcifer.
    def at(number: int, target: str, rps: float) -> Measurement:
        return Measurement("non-stream c=64", target, number, 100, 0, rps, 10.0, 20.0)

    measurements = [
        at(1, "direct", 20000), at(1, "floor", 6000), at(1, "calcifer-1w", 4800),  # 80%
        at(2, "direct", 20000), at(2, "floor", 5800), at(2, "calcifer-1w", 2400),  # 41%
        at(3, "direct", 12000), at(3, "floor", 3000), at(3, "calcifer-1w", 2400),  # 80%
    ]  # fmt: skip
    rows = {(r["scenario"], r["target"]): r for r in summarize(measurements)}
    gateway = rows["non-stream c=64", "calcifer-1w"]
    assert round(gateway["rps_vs_floor"], 6) == 0.8  # the medians' ratio would say 2400 / 5800 = 41%


def test_the_keys_columns_are_known_and_issue_one_key_their_requests_carry(tmp_path: Path) -> None:
    keys_columns = ["calcifer-1w-keys", "calcifer-2w-keys", "calcifer-1w-pg-redis"]
    assert set(keys_columns) <= set(COLUMN_NAMES)
    assert not any(v.default for v in CALCIFER_VARIANTS if v.name in keys_columns)  # --column only
    variant = next(v for v in CALCIFER_VARIANTS if v.name == "calcifer-1w-keys")
    column = calcifer_column(variant, tmp_path, free_port())
    assert isinstance(column, Column) and column.start is not None and column.close is not None
    assert "CALCIFER_MASTER_KEY set" in column.setup
    models = column.url + "/models"
    for start in (1, 2):  # every measurement starts a fresh process: the key stays, issued once
        service = column.start()
        try:
            if start == 1:
                issued = column.headers["Authorization"]
                assert issued.startswith("Bearer ck-")
            assert column.headers["Authorization"] == issued
            assert httpx.get(models, headers=column.headers, timeout=10).status_code == 200
            assert httpx.get(models, timeout=10).status_code == 401  # keys are required
        finally:
            service.stop()
    column.close()
    assert (tmp_path / "calcifer-1w-keys" / "data").is_dir()  # the embedded store, in the column's dir


def test_the_issue_11_targets_are_read_against_calcifer_1w_in_the_same_round() -> None:
    def at(number: int, target: str, p50: float, rps: float = 1000.0, c: int = 1) -> Measurement:
        return Measurement(f"non-stream c={c}", target, number, 100, 0, rps, p50, p50 * 2)

    measurements = [
        at(1, "direct", 0.10), at(1, "calcifer-1w", 0.60),
        at(1, "calcifer-1w-keys", 0.90), at(1, "calcifer-1w-pg-redis", 1.80),
        at(2, "direct", 0.10), at(2, "calcifer-1w", 1.00),
        at(2, "calcifer-1w-keys", 1.40), at(2, "calcifer-1w-pg-redis", 2.00),
        at(1, "calcifer-2w-keys", 9.0, rps=4200, c=64), at(2, "calcifer-2w-keys", 9.0, rps=3800, c=64),
    ]  # fmt: skip
    results = {r["column"]: r for r in access_targets(measurements)}
    assert round(results["calcifer-1w-keys"]["value"], 6) == 0.35  # 0.30 and 0.40 over calcifer-1w
    assert results["calcifer-1w-keys"]["met"] is True
    assert round(results["calcifer-1w-keys"]["added_vs_direct_ms"], 6) == 1.05
    assert round(results["calcifer-1w-pg-redis"]["value"], 6) == 1.1
    assert results["calcifer-1w-pg-redis"]["met"] is False
    assert results["calcifer-2w-keys"]["value"] == 4000 and results["calcifer-2w-keys"]["met"] is True
    table = "\n".join(access_target_lines(list(results.values())))
    assert "| calcifer-1w-pg-redis | +1.10 ms | 1.80 ms | missed |" in table
