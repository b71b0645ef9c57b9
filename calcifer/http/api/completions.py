"""The seeds' wire format for `/v1/completions`: flat `content`, `{"delta","done"}` events."""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.http.api.serving import serve_chat
from calcifer.http.jsonio import dumps
from calcifer.http.parsing import parse_seed_request
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = ["completion_body", "completions", "send_delta_stream"]


def completion_body(priced: PricedCompletion) -> dict[str, Any]:
    body = priced.completion.body
    content, finish_reason = wire.first_choice(body)
    return {
        "id": body.get("id"),
        "model": priced.model.name,
        "provider": priced.model.provider_id,
        "content": content,
        "finish_reason": finish_reason,
        "usage": usage_body(priced.completion.usage, priced.cost),
        "finish_time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def usage_body(usage: Usage | None, cost: object) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {**wire.usage_totals(usage), **wire.cost_fields(cost, usage)}


async def send_delta_stream(sink: SseSink, stream: PricedStream) -> None:
    """`data: {"delta": "...", "done": false}` per piece of text, then a `done` event with
    the usage and cost; a failure after the start ends with `event: error`."""
    encode_error = lambda body: b"event: error\ndata: " + dumps(body) + b"\n\n"  # noqa: E731
    async with aclosing(stream.chunks()) as chunks, sink.errors_as(encode_error):
        pending: list[bytes] = []
        async for chunk in chunks:
            for choice in chunk.data.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pending += (b"data: ", dumps({"delta": text, "done": False}), b"\n\n")
            if pending and not chunk.more:
                await sink.send(b"".join(pending))
                pending.clear()
        finish = stream.result.finish_reasons[-1] if stream.result.finish_reasons else None
        done = {
            "delta": "",
            "done": True,
            "finish_reason": finish,
            "usage": usage_body(stream.usage, stream.cost),
        }
        await sink.send(b"".join(pending) + b"data: " + dumps(done) + b"\n\n")


async def completions(request: Request, scope: RequestScope) -> HTTPResponse | None:
    """`POST /v1/completions`, the seeds' API."""
    return await serve_chat(request, scope, parse_seed_request, completion_body, _send_deltas)


async def _send_deltas(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    await send_delta_stream(sink, stream)
