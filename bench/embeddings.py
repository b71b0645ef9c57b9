"""What an embeddings request costs beside a chat request: both against the offline echo models
of the shipped config, one connection (c=1), interleaved over rounds in the same run.

    python -m bench.embeddings --rounds 5 --seconds 5

`echo-embed` gets one short text in base64 (what the official SDK asks for by default) and
`echo4` the same text as a one-message chat; both are answered in-process, so the figures are
the gateway's own cost per request (wrk's p50 and p99, requests per second, worker CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.columns import GATEWAY_PORT
from bench.load import parse_wrk
from bench.processes import ROOT, Service, cpu_seconds, process_tree, python

TEXT = "Say ok"
BODIES = {
    "chat echo4": (
        "/v1/chat/completions",
        {"model": "echo4", "messages": [{"role": "user", "content": TEXT}]},
    ),
    "embeddings echo-embed": (
        "/v1/embeddings",
        {"model": "echo-embed", "input": TEXT, "encoding_format": "base64"},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    port = GATEWAY_PORT
    with tempfile.TemporaryDirectory() as workdir:
        gateway = Service(
            "calcifer",
            [python(), "-m", "calcifer", "serve", "--config", str(ROOT / "config.yaml")],
            f"http://127.0.0.1:{port}/health",
            cpus="0",
            env={"SERVER_PORT": str(port), "CALCIFER_DATA_DIR": workdir},
            log=Path(workdir) / "calcifer.log",
        ).start()
        try:
            results = _rounds(f"http://127.0.0.1:{port}", gateway.pid, args.rounds, args.seconds)
        finally:
            gateway.stop()
    print("| request (c=1) | req/s | p50 ms | p99 ms | CPU ms/req |\n|---|---|---|---|---|")
    for name, rows in results.items():
        medians = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(
            f"| {name} | {medians['rps']:,.0f} | {medians['p50']:.3f} | {medians['p99']:.3f} "
            f"| {medians['cpu_ms']:.3f} |"
        )


def _rounds(url: str, pid: int, rounds: int, seconds: float) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in BODIES}
    for _ in range(rounds + 1):  # the first round warms up and is not counted
        for name, (path, body) in BODIES.items():
            before = cpu_seconds(process_tree(pid))
            measured = _wrk(url + path, body, seconds)
            measured["cpu_ms"] = (
                (cpu_seconds(process_tree(pid)) - before) * 1000 / max(measured["requests"], 1)
            )
            if measured["errors"]:
                raise SystemExit(f"{name}: {measured['errors']:.0f} errors")
            results[name].append(measured)
    return {name: rows[1:] for name, rows in results.items()}


def _wrk(url: str, body: dict[str, object], seconds: float) -> dict[str, float]:
    command = ["taskset", "-c", "1", "wrk", "-t1", "-c1", f"-d{int(seconds)}s", "--latency"]
    command += ["-s", str(ROOT / "bench" / "post.lua"), url]
    env = {**os.environ, "BENCH_BODY": json.dumps(body)}
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout)


if __name__ == "__main__":
    main()
