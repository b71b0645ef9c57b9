"""Chaos run: thousands of requests through a model with two deployments and a fallback
while the upstream injects rate limits, 5xx, dropped connections and streams cut half-way.

    python -m bench.chaos                 # 2,000 requests, half streamed, 32 at a time
    python -m bench.chaos --requests 5000 --concurrency 64

The same requests are first sent without faults, in the same run, so the p99 latency that
recovery adds is measured against a baseline. Reported: success rate, requests that hung
(no answer within 30 s), gateway-originated 500s, and how the failures ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from bench.processes import Service, python

UPSTREAM_PORT, GATEWAY_PORT = 9110, 9210
FAULTS = {"429": 0.10, "5xx": 0.05, "drop": 0.02, "cut": 0.02}
HANG_SECONDS = 30.0

CATALOG = f"""
providers:
  chaos-a: &chaos
    kind: openai
    api_key_env: CHAOS_KEY
    base_url: http://127.0.0.1:{UPSTREAM_PORT}/v1
    timeout: 10
    first_byte_timeout: 5
    idle_timeout: 5
    max_retries: 2
    circuit_breaker: {{consecutive_failures: 8, cooldown_seconds: 2}}
  chaos-b: *chaos
  chaos-fallback: *chaos
models:
  chaos-model:
    deployments:
      - {{provider: chaos-a, upstream_model: bench-model}}
      - {{provider: chaos-b, upstream_model: bench-model}}
    fallbacks: [chaos-fallback-model]
    pricing: {{input: 2.50, output: 10.00}}
  chaos-fallback-model:
    provider: chaos-fallback
    upstream_model: bench-model
    pricing: {{input: 0.15, output: 0.60}}
"""


@dataclass
class Outcome:
    ok: bool
    status: int
    seconds: float
    kind: str
    """ok, hung, http_<status>, stream_error, stream_incomplete, client_error."""


async def one(
    session: aiohttp.ClientSession, url: str, stream: bool, faults: dict[str, float] | None
) -> Outcome:
    body = {
        "model": "chaos-model",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        "bench_chunks": 20,
        "bench_delay_ms": 2,
    }
    if faults:
        body["bench_faults"] = faults
    started = time.perf_counter()
    try:
        async with asyncio.timeout(HANG_SECONDS), session.post(url, data=orjson.dumps(body)) as response:
            payload = await response.read()
    except TimeoutError:
        return Outcome(False, 0, HANG_SECONDS, "hung")
    except aiohttp.ClientError:
        return Outcome(False, 0, time.perf_counter() - started, "client_error")
    seconds = time.perf_counter() - started
    if response.status != 200:
        return Outcome(False, response.status, seconds, f"http_{response.status}")
    if not stream:
        return Outcome(True, 200, seconds, "ok")
    if b'"error"' in payload:
        return Outcome(False, 200, seconds, "stream_error")
    if not payload.endswith(b"data: [DONE]\n\n"):
        return Outcome(False, 200, seconds, "stream_incomplete")
    return Outcome(True, 200, seconds, "ok")


async def run(
    url: str, requests: int, concurrency: int, faults: dict[str, float] | None, seed: int
) -> list[Outcome]:
    rng = random.Random(seed)
    plan = [rng.random() < 0.5 for _ in range(requests)]
    outcomes: list[Outcome] = []
    queue = iter(plan)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            for stream in queue:
                outcomes.append(await one(session, url, stream, faults))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


def p99(outcomes: list[Outcome]) -> float:
    values = sorted(o.seconds for o in outcomes if o.ok)
    return values[min(len(values) - 1, int(len(values) * 0.99))] * 1000 if values else 0.0


def report(clean: list[Outcome], chaos: list[Outcome]) -> dict[str, object]:
    kinds = Counter(o.kind for o in chaos)
    succeeded = sum(o.ok for o in chaos)
    return {
        "requests": len(chaos),
        "success_rate": succeeded / len(chaos),
        "hung": kinds.get("hung", 0),
        "gateway_500s": kinds.get("http_500", 0),
        "outcomes": dict(kinds),
        "p50_ms_clean": statistics.median(o.seconds for o in clean) * 1000,
        "p99_ms_clean": p99(clean),
        "p99_ms_chaos": p99(chaos),
        "p99_ms_added_by_recovery": p99(chaos) - p99(clean),
        "clean_success_rate": sum(o.ok for o in clean) / len(clean),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("chaos-results.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="calcifer-chaos-"))
    (workdir / "catalog.yaml").write_text(CATALOG)
    (workdir / "config.yaml").write_text(
        f"server:\n  host: 127.0.0.1\n  port: {GATEWAY_PORT}\nlogging:\n  level: WARNING\n  format: json\n"
        "catalog:\n  path: catalog.yaml\n"
    )
    upstream = Service(
        "upstream",
        [python(), "-m", "bench.fake_upstream", "--port", str(UPSTREAM_PORT)],
        f"http://127.0.0.1:{UPSTREAM_PORT}/health",
        cpus=None,
        log=workdir / "upstream.log",
    )
    gateway = Service(
        "calcifer",
        [python(), "-m", "calcifer", "serve", "--config", str(workdir / "config.yaml")],
        f"http://127.0.0.1:{GATEWAY_PORT}/health",
        cpus=None,
        env={"CHAOS_KEY": "chaos"},
        log=workdir / "gateway.log",
    )
    url = f"http://127.0.0.1:{GATEWAY_PORT}/v1/chat/completions"
    try:
        upstream.start()
        gateway.start()
        clean = asyncio.run(run(url, args.requests, args.concurrency, None, args.seed))
        chaos = asyncio.run(run(url, args.requests, args.concurrency, FAULTS, args.seed))
    finally:
        gateway.stop()
        upstream.stop()
    result = report(clean, chaos)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    print(f"gateway log: {workdir / 'gateway.log'}")


if __name__ == "__main__":
    main()
