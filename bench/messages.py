"""Anthropic Messages costs: time to first byte of a Messages pass-through stream beside a chat
stream through the same gateway (same run, interleaved), and the per-chunk cost of writing
canonical chunks as Anthropic events (the translated path).

    .venv/bin/python -m bench.messages                 # 3 rounds of 200 streams per path
    .venv/bin/python -m bench.messages --rounds 5 --streams 500

The gateway runs the repository's shipped `config.yaml` (copied unchanged) next to a catalog
of two providers at one fake upstream (`bench.fake_upstream` plus a `/v1/messages` route that
streams 50 text deltas): `bench` (kind openai) and `bench-anthropic` (kind anthropic). Both
streams carry 50 pieces of text; the client reads every byte, one stream at a time (c=1).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sanic import Request
from sanic.response import HTTPResponse

from bench.columns import SHIPPED_CONFIG, UPSTREAM_KEY_ENV
from bench.fake_upstream import build_app
from bench.processes import Service, python
from bench.stream_client import run_streams

UPSTREAM_PORT, GATEWAY_PORT = 9110, 9210
PIECES = 50


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


_MESSAGE = {
    "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1},
}  # fmt: skip
HEAD = _frame("message_start", {"message": _MESSAGE}) + _frame(
    "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
)
PIECE = _frame("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "tok "}})
_STOP = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 50}}
TAIL = (
    _frame("content_block_stop", {"index": 0}) + _frame("message_delta", _STOP) + _frame("message_stop", {})
)


def serve_upstream(port: int) -> None:
    """The bench's fake OpenAI upstream, plus Anthropic's `/v1/messages` (streamed)."""
    app = build_app()

    @app.post("/v1/messages")
    async def messages(request: Request) -> HTTPResponse | None:
        response = await request.respond(content_type="text/event-stream")
        assert response is not None
        await response.send(HEAD)
        for _ in range(PIECES):
            await response.send(PIECE)
        await response.send(TAIL)
        await response.eof()
        return None

    app.run(host="127.0.0.1", port=port, single_process=True, access_log=False, motd=False)


def _catalog() -> str:
    upstream = f"http://127.0.0.1:{UPSTREAM_PORT}"
    return (
        "providers:\n"
        f"  bench: {{kind: openai, api_key_env: {UPSTREAM_KEY_ENV}, base_url: {upstream}/v1}}\n"
        f"  bench-anthropic: {{kind: anthropic, api_key_env: {UPSTREAM_KEY_ENV}, base_url: {upstream}}}\n"
        "models:\n"
        "  bench-model: {provider: bench, pricing: {input: 2.50, output: 10.00}}\n"
        "  bench-claude: {provider: bench-anthropic, pricing: {input: 2.50, output: 10.00}}\n"
    )


def _start(workdir: Path) -> tuple[Service, Service]:
    upstream = Service(
        "upstream",
        [python(), "-m", "bench.messages", "--serve-upstream", str(UPSTREAM_PORT)],
        f"http://127.0.0.1:{UPSTREAM_PORT}/health",
        cpus="1",
        log=workdir / "upstream.log",
    ).start()
    shutil.copyfile(SHIPPED_CONFIG, workdir / "config.yaml")  # byte for byte what users get
    (workdir / "catalog").mkdir()
    (workdir / "catalog" / "bench.yaml").write_text(_catalog())
    command = [python(), "-m", "calcifer", "serve", "--config", str(workdir / "config.yaml")]
    gateway = Service(
        "calcifer-1w",
        [*command, "--port", str(GATEWAY_PORT), "--workers", "1"],
        f"http://127.0.0.1:{GATEWAY_PORT}/health",
        cpus="0",
        env={UPSTREAM_KEY_ENV: "bench"},
        log=workdir / "calcifer.log",
    ).start()
    return upstream, gateway


_HI = [{"role": "user", "content": "hi"}]
PATHS = {
    "chat stream": (
        "/v1/chat/completions",
        {"model": "bench-model", "messages": _HI, "stream": True, "bench_chunks": PIECES},
    ),
    "messages pass-through": (
        "/v1/messages", {"model": "bench-claude", "max_tokens": 100, "stream": True, "messages": _HI}
    ),
}  # fmt: skip


def gateway_overhead(log: Path, route: str) -> float:
    """Median `overhead_ms` of the route's request lines: the gateway's own time, the upstream's
    excluded (steadier than end-to-end times on a shared machine)."""
    values = [
        float(line.split("overhead_ms=")[1].split()[0])
        for line in log.read_text().splitlines()
        if f"route={route} " in line and "overhead_ms=" in line
    ]
    return statistics.median(values) if values else float("nan")


async def _measure(port: int, path: str, body: dict[str, Any], streams: int) -> tuple[float, float]:
    """Median time to first byte and total time, ms."""
    stats = await run_streams(
        f"http://127.0.0.1:{port}{path}", orjson.dumps(body), concurrency=1, per_worker=streams,
        expected_events=PIECES,
    )  # fmt: skip
    results = stats.results  # a Messages stream ends with message_stop, not [DONE]: read them all
    ttfb = statistics.median(r.ttfb for r in results) * 1000
    total = statistics.median(r.total for r in results) * 1000
    return ttfb, total


def renderer_cost(chunks: int = 50, repeat: int = 2000) -> float:
    """µs per canonical chunk written as Anthropic events (EventWriter.feed), best of five."""
    from calcifer.formats import openai_chat as wire
    from calcifer.formats.anthropic_messages import EventWriter

    envelope = wire.chunk_envelope("chatcmpl-bench", "bench-model")
    pieces = [wire.delta_chunk(envelope, {"content": "tok "}) for _ in range(chunks)]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            writer = EventWriter("bench-model")
            for chunk in pieces:
                writer.feed(chunk)
            writer.finish(None, None)
        best = min(best, (time.perf_counter() - started) / (repeat * chunks) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-messages-"))
    upstream, gateway = _start(workdir)
    try:
        rows: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
        direct: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
        for number in range(args.rounds):
            order = list(PATHS) if number % 2 == 0 else list(reversed(PATHS))
            for name in order:
                path, body = PATHS[name]
                direct[name].append(asyncio.run(_measure(UPSTREAM_PORT, path, body, args.streams)))
                rows[name].append(asyncio.run(_measure(GATEWAY_PORT, path, body, args.streams)))
    finally:
        gateway.stop()
        upstream.stop()
    print(
        f"c=1, {args.streams} streams x {args.rounds} rounds, {PIECES} text pieces each; medians over rounds"
    )
    print(
        "| path | TTFB p50 ms | TTFB added p50 ms | total p50 ms | total added p50 ms "
        "| gateway overhead p50 ms (its log) |\n|---|---|---|---|---|---|"
    )
    for name, values in rows.items():
        # added: through the gateway minus straight to the upstream, per round; median of those
        ttfb = statistics.median(v[0] for v in values)
        total = statistics.median(v[1] for v in values)
        ttfb_added = statistics.median(v[0] - d[0] for v, d in zip(values, direct[name], strict=True))
        total_added = statistics.median(v[1] - d[1] for v, d in zip(values, direct[name], strict=True))
        overhead = gateway_overhead(workdir / "calcifer.log", PATHS[name][0])
        print(
            f"| {name} | {ttfb:.3f} | {ttfb_added:.3f} | {total:.3f} | {total_added:.3f} | {overhead:.3f} |"
        )
    print(f"canonical chunk → Anthropic events (EventWriter.feed): {renderer_cost():.2f} µs per chunk")
    print(f"logs: {workdir}")


if __name__ == "__main__":
    main()
