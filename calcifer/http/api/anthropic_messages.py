"""`POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic's Messages API.

A request is parsed into the canonical chat body (for providers that need a translation) and
kept as sent (for an Anthropic provider, which gets it unchanged but for the model name, with
this request's `anthropic-version`, `anthropic-beta` and query string). Answers come back in
Anthropic's shape with `usage.cost` (USD) added; a passed-through stream is the provider's own
bytes, its cost only in the ledger and the log line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import aclosing
from typing import Any, Protocol, runtime_checkable

import orjson
from sanic import Request
from sanic.response import HTTPResponse, raw

from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.dialect import Dialect, NativeRequest
from calcifer.domain.estimate import prompt_characters
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.provider import UpstreamCall
from calcifer.errors import InvalidRequest, ModelNotAllowed
from calcifer.formats import openai_chat as chat_wire
from calcifer.formats.anthropic_messages import (
    EventWriter,
    error_event,
    message_body,
    translate_messages_request,
)
from calcifer.http.api.serving import PROVIDER_HEADER, serve_chat
from calcifer.http.jsonio import json_response, loads_object, require_json
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = ["NATIVE_HEADERS", "count_tokens", "messages", "messages_body"]

NATIVE_HEADERS = ("anthropic-version", "anthropic-beta")
"""The client's headers an Anthropic provider is sent as they came (never remembered)."""


@runtime_checkable
class CountsTokens(Protocol):
    """An adapter that can ask its provider to count a native request's input tokens."""

    async def count_tokens(self, call: UpstreamCall) -> bytes: ...


async def messages(request: Request, scope: RequestScope) -> HTTPResponse | None:
    """`POST /v1/messages`."""
    return await serve_chat(request, scope, _parser(request), messages_body, _send_events)


_SyncParse = Callable[[dict[str, Any], str | None], ChatRequest]
"""A `Parse` that answers at once (count_tokens calls it directly)."""


async def count_tokens(request: Request, scope: RequestScope) -> HTTPResponse:
    """`POST /v1/messages/count_tokens`: the Anthropic provider's own count when the model is
    served by one, else the gateway's estimate (about four characters a token). Never billed;
    the key must be allowed the model."""
    require_json(request.headers.get("content-type"))
    chat = _parser(request, counting=True)(loads_object(request.body), request.headers.get(PROVIDER_HEADER))
    gateway = scope.serving.gateway
    model = gateway.route(chat)
    principal = scope.principal
    if principal.models and not principal.may_call((model.name, *model.aliases)):
        raise ModelNotAllowed(f"This key may not call the model '{chat.model}'", scope=f"key:{principal.id}")
    provider = gateway.provider_of(model)
    if isinstance(provider, CountsTokens) and provider.parameters.passes_through(chat):
        answer = await provider.count_tokens(UpstreamCall(chat, model))
        return raw(answer, content_type="application/json")
    tools = chat.body.get("tools")
    characters = prompt_characters(chat.messages) + (len(orjson.dumps(tools)) if tools else 0)
    return json_response({"input_tokens": math.ceil(characters / 4)})


def messages_body(priced: PricedCompletion) -> dict[str, Any]:
    """The answer as an Anthropic `message` whose usage also says what it cost (USD)."""
    completion = priced.completion
    if completion.native:  # the provider's own message: a copy with the cost added
        usage = completion.body.get("usage")
        return {
            **completion.body,
            "usage": {
                **(usage if isinstance(usage, dict) else {}),
                **chat_wire.cost_fields(priced.cost, completion.usage),
            },
        }
    return message_body(completion.body, priced.model.name, completion.usage, priced.cost)


def _parser(request: Request, *, counting: bool = False) -> _SyncParse:
    """The parser of this request's body, knowing its headers and query string."""
    headers = {
        name: ", ".join(values) for name in NATIVE_HEADERS if (values := request.headers.getall(name, []))
    }
    query = request.query_string

    def parse(body: dict[str, Any], provider_hint: str | None) -> ChatRequest:
        stream = body.get("stream", False)
        if not isinstance(stream, bool) or (counting and stream):
            raise InvalidRequest("'stream' must be a boolean", param="stream")
        translation = translate_messages_request(body, require_max_tokens=not counting)
        return ChatRequest(
            model=body["model"],
            body=translation.body,
            stream=stream,
            include_usage=True,
            provider_hint=provider_hint,
            dialect=Dialect.ANTHROPIC_MESSAGES,
            native=NativeRequest(Dialect.ANTHROPIC_MESSAGES, body, headers, query),
            untranslatable=tuple(translation.untranslatable),
        )

    return parse


async def _send_events(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    """A passed-through event is written as the provider sent it; a translated stream is
    written in Anthropic's grammar and ends with the usage and cost. A failure after the start
    is an `event: error` (no `message_stop`)."""
    writer = EventWriter(stream.model.name)
    translated = False
    async with aclosing(stream.chunks()) as chunks, sink.errors_as(error_event):
        pending: list[bytes] = []
        first = True
        async for chunk in chunks:
            if chunk.native:
                pending.append(chunk.raw or b"")
            else:
                translated = True
                pending += writer.feed(chunk)
            # One write for the events that arrived together; the first goes alone, at once.
            if pending and (first or not chunk.more):
                await sink.send(b"".join(pending))
                pending.clear()
                first = False
        if translated:
            pending += writer.finish(stream.usage, stream.cost)
        if pending:
            await sink.send(b"".join(pending))
