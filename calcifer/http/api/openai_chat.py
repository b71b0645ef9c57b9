"""The OpenAI-compatible wire format: `chat.completion` bodies and `chat.completion.chunk` SSE."""

from __future__ import annotations

from contextlib import aclosing
from decimal import Decimal
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.chat import ChatRequest, Chunk, PricedCompletion
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.http.api.serving import serve_chat
from calcifer.http.jsonio import dumps
from calcifer.http.parsing import parse_chat_request
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = ["chat_completions", "completion_body", "send_chunk_stream"]


def completion_body(priced: PricedCompletion) -> dict[str, Any]:
    """The provider's completion with `usage.cost` (USD) added, as OpenRouter does; a copy,
    the adapter's body stays as it made it."""
    body = priced.completion.body
    usage = priced.completion.usage
    with_cost = wire.with_usage_cost(body, priced.cost, usage)
    if with_cost is None:  # a provider that reported no usage: the gateway's estimate
        with_cost = {**body, "usage": {**wire.usage_totals(usage), **wire.cost_fields(priced.cost, usage)}}
    return with_cost


async def send_chunk_stream(sink: SseSink, stream: PricedStream, include_usage: bool) -> None:
    """Forward chunks as `data:` events and end with `data: [DONE]`.

    The gateway always asks the provider for usage so it can price the request; the
    usage chunk reaches the client only when the client asked for it, with its cost.
    """
    encode_error = lambda body: b"data: " + dumps(body) + b"\n\n"  # noqa: E731
    async with aclosing(stream.chunks()) as chunks, sink.errors_as(encode_error):
        pending: list[bytes] = []
        first = True
        async for chunk in chunks:
            payload = _client_payload(chunk, include_usage, stream.cost, stream.usage)
            if payload is not None:
                pending += (b"data: ", payload, b"\n\n")
            # One write for the chunks that arrived together; the first goes alone, at once.
            if pending and (first or not chunk.more):
                await sink.send(b"".join(pending))
                pending.clear()
                first = False
        await sink.send(b"".join(pending) + b"data: [DONE]\n\n")


def _client_payload(
    chunk: Chunk, include_usage: bool, cost: Decimal | None, usage: Usage | None
) -> bytes | None:
    """What the client gets for a chunk: the provider's own bytes whenever they will do."""
    if chunk.usage is not None:
        if include_usage:
            with_cost = wire.with_usage_cost(chunk.data, cost, usage)
            if with_cost is not None:
                return dumps(with_cost)
        elif not chunk.data.get("choices"):
            return None
        else:
            return dumps(wire.without_usage(chunk.data))
    return chunk.raw if chunk.raw is not None else dumps(chunk.data)


async def chat_completions(request: Request, scope: RequestScope) -> HTTPResponse | None:
    """`POST /v1/chat/completions`."""
    return await serve_chat(request, scope, parse_chat_request, completion_body, _send_chunks)


async def _send_chunks(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    await send_chunk_stream(sink, stream, chat.include_usage)
