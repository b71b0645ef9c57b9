"""Chaos run: thousands of requests while the upstream injects faults and clients leave.

    python -m bench.chaos                      # both set-ups, 5,000 requests each, half streamed
    python -m bench.chaos --mode one --requests 1000

Issue 10's mix: the fake upstream answers 10% of calls 429 (`retry-after-ms: 50`), drops 5% of
connections before answering and answers 2% with unreadable JSON; 2% of requests are left by
their client mid-request (counted apart: a client leaving is not a failure of the gateway).
Two set-ups, each a fresh gateway with *default* provider settings (the catalog gives only
kind, key variable and base_url): `one`, a model with one deployment and no fallback; `two`, a
model with two deployments and a fallback model. The same requests are first sent without
faults, so the p99 latency that recovery adds is measured against a baseline. Reported per
set-up: success rate (of the requests whose client stayed), requests that hung (no answer
within 30 s), HTTP 500s (seen by clients, and in the gateway's request log, which also sees
the requests whose client left), and how the failures ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
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
FAULTS = {"429": 0.10, "drop": 0.05, "malformed": 0.02}
CLIENT_LEAVES = 0.02
"""Share of requests whose client goes away mid-request."""
HANG_SECONDS = 30.0


def _provider(name: str) -> str:
    return f"  {name}: {{kind: openai, api_key_env: CHAOS_KEY, base_url: 'http://127.0.0.1:{UPSTREAM_PORT}/v1'}}\n"


CATALOGS = {
    "one": "providers:\n"
    + _provider("chaos")
    + """models:
  chaos-model:
    provider: chaos
    upstream_model: bench-model
    pricing: {input: 2.50, output: 10.00}
""",
    "two": "providers:\n"
    + _provider("chaos-a")
    + _provider("chaos-b")
    + _provider("chaos-fallback")
    + """models:
  chaos-model:
    deployments:
      - {provider: chaos-a, upstream_model: bench-model}
      - {provider: chaos-b, upstream_model: bench-model}
    fallbacks: [chaos-fallback-model]
    pricing: {input: 2.50, output: 10.00}
  chaos-fallback-model:
    provider: chaos-fallback
    upstream_model: bench-model
    pricing: {input: 0.15, output: 0.60}
""",
}


@dataclass
class Outcome:
    ok: bool
    status: int
    seconds: float
    kind: str
    """ok, hung, client_left, http_<status>, stream_error, stream_incomplete, client_error."""
    attempts: int = 0
    """Upstream calls the gateway made for an answered request (`X-Calcifer-Attempts`)."""


async def one(
    session: aiohttp.ClientSession,
    url: str,
    stream: bool,
    faults: dict[str, float] | None,
    leave_after: float | None = None,
) -> Outcome:
    """One request; with `leave_after`, the client gives up after that many seconds (a request
    that was answered sooner counts as it ended)."""
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
        async with (
            asyncio.timeout(leave_after or HANG_SECONDS),
            session.post(url, data=orjson.dumps(body)) as response,
        ):
            payload = await response.read()
    except TimeoutError:
        if leave_after is not None:
            return Outcome(False, 0, leave_after, "client_left")
        return Outcome(False, 0, HANG_SECONDS, "hung")
    except aiohttp.ClientError:
        return Outcome(False, 0, time.perf_counter() - started, "client_error")
    seconds = time.perf_counter() - started
    attempts = int(response.headers.get("X-Calcifer-Attempts", 0))
    if response.status != 200:
        return Outcome(False, response.status, seconds, f"http_{response.status}")
    if not stream:
        return Outcome(True, 200, seconds, "ok", attempts)
    if b'"error"' in payload:
        return Outcome(False, 200, seconds, "stream_error")
    if not payload.endswith(b"data: [DONE]\n\n"):
        return Outcome(False, 200, seconds, "stream_incomplete")
    return Outcome(True, 200, seconds, "ok", attempts)


async def run(
    url: str, requests: int, concurrency: int, faults: dict[str, float] | None, seed: int
) -> list[Outcome]:
    """`requests` requests, half streamed; with faults, CLIENT_LEAVES of them are left early."""
    rng = random.Random(seed)
    plan: list[tuple[bool, float | None]] = []
    for _ in range(requests):
        stream = rng.random() < 0.5
        leaves = faults is not None and rng.random() < CLIENT_LEAVES
        plan.append((stream, rng.uniform(0.001, 0.04) if leaves else None))
    outcomes: list[Outcome] = []
    queue = iter(plan)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            for stream, leave_after in queue:
                outcomes.append(await one(session, url, stream, faults, leave_after))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


def p99(outcomes: list[Outcome]) -> float:
    values = sorted(o.seconds for o in outcomes if o.ok)
    return values[min(len(values) - 1, int(len(values) * 0.99))] * 1000 if values else 0.0


def logged_statuses(log: Path) -> Counter[int]:
    """HTTP statuses on the gateway's request log lines (requests whose client left included)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return Counter(int(status) for status in re.findall(r'"status":\s*(\d{3})', text))


def report(clean: list[Outcome], chaos: list[Outcome], logged: Counter[int]) -> dict[str, object]:
    kinds = Counter(o.kind for o in chaos)
    stayed = len(chaos) - kinds.get("client_left", 0)
    succeeded = sum(o.ok for o in chaos)
    calls = sum(o.attempts for o in chaos if o.ok)
    return {
        "requests": len(chaos),
        "client_left": kinds.get("client_left", 0),
        "success_rate": succeeded / stayed,
        "hung": kinds.get("hung", 0),
        "http_500s": kinds.get("http_500", 0),
        "http_500s_logged": logged.get(500, 0),
        "outcomes": dict(kinds),
        # Of the upstream calls made for answered requests, the share that failed: the fault
        # rate the gateway met (the mix asks for 17%).
        "failed_call_share": (calls - succeeded) / calls if calls else 0.0,
        "logged_statuses": {str(k): v for k, v in sorted(logged.items())},
        "p50_ms_clean": statistics.median(o.seconds for o in clean) * 1000,
        "p99_ms_clean": p99(clean),
        "p99_ms_chaos": p99(chaos),
        "p99_ms_added_by_recovery": p99(chaos) - p99(clean),
        "clean_success_rate": sum(o.ok for o in clean) / len(clean),
    }


def run_setup(mode: str, args: argparse.Namespace) -> dict[str, object]:
    """Start the fake upstream and a fresh gateway on the set-up's catalog; run clean, then chaos."""
    workdir = Path(tempfile.mkdtemp(prefix=f"calcifer-chaos-{mode}-"))
    (workdir / "catalog.yaml").write_text(CATALOGS[mode])
    (workdir / "config.yaml").write_text(
        f"server:\n  host: 127.0.0.1\n  port: {GATEWAY_PORT}\nlogging:\n  level: INFO\n  format: json\n"
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
    result = report(clean, chaos, logged_statuses(workdir / "gateway.log"))
    result["gateway_log"] = str(workdir / "gateway.log")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["one", "two", "both"], default="both")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("chaos-results.json"))
    args = parser.parse_args()
    modes = ["one", "two"] if args.mode == "both" else [args.mode]
    results = {mode: run_setup(mode, args) for mode in modes}
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
