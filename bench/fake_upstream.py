"""A fast fake OpenAI chat-completions upstream for benchmarks, run in its own process.

`python -m bench.fake_upstream --port 9100`. Non-streamed answers are precomputed bytes.
A streamed answer has `bench_chunks` content chunks (default 50), `bench_delay_ms`
between them (default 0, ~20 imitates a real model), then a usage chunk when asked for,
then `data: [DONE]`. `bench_faults` asks for random faults (see `_draw_fault`). These fields ride
in the request body, which the gateway forwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from typing import Any

import orjson
from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

USAGE = {"prompt_tokens": 12, "completion_tokens": 50, "total_tokens": 62}
COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok " * 50}, "finish_reason": "stop"}
        ],
        "usage": USAGE,
    }
)


def _event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
    data = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": choices,
        **extra,
    }
    return b"data: " + orjson.dumps(data) + b"\n\n"


FIRST = _event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
TOKEN = _event([{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}])
LAST = _event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
USAGE_EVENT = _event([], usage=USAGE)
DONE = b"data: [DONE]\n\n"


RATE_LIMITED = orjson.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": None}})
SERVER_ERROR = orjson.dumps({"error": {"message": "The server is overloaded", "type": "server_error"}})
MALFORMED = COMPLETION[: len(COMPLETION) // 2]
"""An answer cut short: a 200 whose body (or first event) is not valid JSON."""


def _draw_fault(faults: object, stream: bool) -> str | None:
    """`bench_faults` in the body asks for random faults: {"429": 0.1, "5xx": 0.05, "drop": 0.02,
    "malformed": 0.02, "cut": 0.02} (each a probability; `drop` closes the connection before any
    answer, `malformed` answers 200 with unreadable JSON, `cut` ends a stream half-way)."""
    if not isinstance(faults, dict):
        return None
    draw = random.random()
    for name in ("429", "5xx", "drop", "malformed", "cut"):
        chance = float(faults.get(name, 0))
        if name == "cut" and not stream:
            continue
        if draw < chance:
            return name
        draw -= chance
    return None


def build_app() -> Sanic[Any, Any]:
    app = Sanic("bench_upstream", configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.KEEP_ALIVE_TIMEOUT = 75

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> HTTPResponse | None:
        body = orjson.loads(request.body)
        fault = _draw_fault(body.get("bench_faults"), bool(body.get("stream")))
        if fault == "429":
            headers = {"retry-after-ms": "50"}
            return raw(RATE_LIMITED, status=429, headers=headers, content_type="application/json")
        if fault == "5xx":
            return raw(SERVER_ERROR, status=503, content_type="application/json")
        if fault == "drop":
            request.transport.close()
            return None
        if fault == "malformed" and not body.get("stream"):
            return raw(MALFORMED, content_type="application/json")
        if not body.get("stream"):
            return raw(COMPLETION, content_type="application/json")
        chunks = int(body.get("bench_chunks", 50))
        delay = float(body.get("bench_delay_ms", 0)) / 1000
        response = await request.respond(content_type="text/event-stream")
        assert response is not None
        if fault == "malformed":
            await response.send(b"data: " + MALFORMED + b"\n\n" + DONE)
            await response.eof()
            return None
        await response.send(FIRST)
        for index in range(chunks):
            if delay:
                await asyncio.sleep(delay)
            if fault == "cut" and index == chunks // 2:
                request.transport.close()  # the stream dies half-way: no finish, no usage, no [DONE]
                return None
            await response.send(TOKEN)
        tail = LAST + (USAGE_EVENT if (body.get("stream_options") or {}).get("include_usage") else b"") + DONE
        await response.send(tail)
        await response.eof()
        return None

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return raw(b"ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    app = build_app()
    app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False, backlog=4096)


if __name__ == "__main__":
    main()
