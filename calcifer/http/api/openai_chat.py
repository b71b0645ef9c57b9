"""The OpenAI-compatible wire format: `chat.completion` bodies and `chat.completion.chunk` SSE."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.chat import ChatRequest, Chunk, PricedCompletion
from calcifer.domain.priced_stream import PricedStream
from calcifer.http.api.serving import serve_chat
from calcifer.http.jsonio import dumps
from calcifer.http.parsing import parse_chat_request
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = ["chat_completions", "completion_body", "send_chunk_stream"]


def completion_body(priced: PricedCompletion) -> dict[str, Any]:
    """The provider's completion with `usage.cost` (USD) added, as OpenRouter does."""
    body = priced.completion.body
    usage = body.get("usage")
    if not isinstance(usage, dict):
        usage = body["usage"] = _usage_fields(priced)
    usage["cost"] = priced.cost
    return body


def _usage_fields(priced: PricedCompletion) -> dict[str, Any]:
    usage = priced.completion.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


async def send_chunk_stream(sink: SseSink, stream: PricedStream, include_usage: bool) -> None:
    """Forward chunks as `data:` events and end with `data: [DONE]`.

    The gateway always asks the provider for usage so it can price the request; the
    usage chunk reaches the client only when the client asked for it.
    """
    encode_error = lambda body: b"data: " + dumps(body) + b"\n\n"  # noqa: E731
    async with aclosing(stream.chunks()) as chunks, sink.errors_as(encode_error):
        pending: list[bytes] = []
        first = True
        async for chunk in chunks:
            payload = _client_payload(chunk, include_usage)
            if payload is not None:
                pending += (b"data: ", payload, b"\n\n")
            # One write for the chunks that arrived together; the first goes alone, at once.
            if pending and (first or not chunk.more):
                await sink.send(b"".join(pending))
                pending.clear()
                first = False
        await sink.send(b"".join(pending) + b"data: [DONE]\n\n")


def _client_payload(chunk: Chunk, include_usage: bool) -> bytes | None:
    if chunk.usage is not None and not include_usage:
        if not chunk.data.get("choices"):
            return None
        chunk.data.pop("usage", None)
        chunk.raw = None
    return chunk.raw if chunk.raw is not None else dumps(chunk.data)


async def chat_completions(request: Request, scope: RequestScope) -> HTTPResponse | None:
    """`POST /v1/chat/completions`."""
    return await serve_chat(request, scope, parse_chat_request, completion_body, _send_chunks)


async def _send_chunks(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    await send_chunk_stream(sink, stream, chat.include_usage)
