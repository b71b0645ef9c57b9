"""What the metrics step costs per request, in process: one `RequestSample` recorded (with
tokens, cost and a first-token time) plus the in-flight gauge up and down, with samples in
memory (one worker) and in memory-mapped files (several workers).

    .venv/bin/python -m bench.metrics_cost
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

ROUNDS, CALLS = 7, 20_000


def measure() -> float:
    from calcifer.domain.usage import Usage
    from calcifer.telemetry.metrics import GatewayMetrics, RequestSample

    metrics = GatewayMetrics()
    sample = RequestSample(
        route="chat", model="gpt-4o", provider="openai", status=200, duration_seconds=0.2,
        overhead_seconds=0.0004, first_token_seconds=0.1, usage=Usage(input_tokens=120, output_tokens=40),
        cost=Decimal("0.000700"),
    )  # fmt: skip
    per_call = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            metrics.inflight.inc()
            metrics.inflight.dec()
            metrics.record(sample)
        per_call.append((time.perf_counter() - started) / CALLS * 1e6)
    return statistics.median(per_call)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(f"{measure():.2f}")
        return
    with tempfile.TemporaryDirectory() as directory:
        for label, env in (
            ("one worker (in memory)", {}),
            ("several workers (mmap files)", {"PROMETHEUS_MULTIPROC_DIR": directory}),
        ):
            child_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | env
            output = subprocess.run(
                [sys.executable, "-m", "bench.metrics_cost", "--child"],
                env=child_env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            print(f"{label}: {output.stdout.strip()} µs per request (median of {ROUNDS} × {CALLS:,})")


if __name__ == "__main__":
    main()
