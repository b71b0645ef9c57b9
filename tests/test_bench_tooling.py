"""The benchmark tooling runs and reads its own output (no timing is asserted here)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from bench.processes import Service, python
from bench.run import Measurement, markdown, parse_wrk, summarize
from bench.stream_client import run_streams
from tests.gateway_process import GatewayProcess

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
    assert "| non-stream c=1 | calcifer-1w |" in markdown(rows, {"calcifer-1w": [0.8]}, {"calcifer-1w": 70.0})


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
