"""What the chat dialects share: parse, call the gateway, answer whole or as a stream."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, raw

from calcifer.domain.cached_stream import StreamRecorder
from calcifer.domain.caching import CachePlan
from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.lifecycle import lifecycle_headers
from calcifer.domain.models import ModelSpec
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import format_usd
from calcifer.domain.usage import Usage
from calcifer.errors import InvalidRequest
from calcifer.http.api.cache_serving import directive_of, hit_headers, plan_headers
from calcifer.http.errors import http_error
from calcifer.http.jsonio import dumps, loads_object, require_json
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = [
    "COST_ESTIMATED_HEADER",
    "COST_HEADER",
    "DEADLINE_HEADER",
    "PROVIDER_HEADER",
    "cost_headers",
    "deadline_of",
    "provider_hint_of",
    "serve_chat",
]

PROVIDER_HEADER = "X-Provider"
DEADLINE_HEADER = "X-Calcifer-Timeout-Ms"
COST_HEADER = "X-Calcifer-Cost"
COST_ESTIMATED_HEADER = "X-Calcifer-Cost-Estimated"
USER_HEADER = "X-Calcifer-User"

# Either may be a coroutine function (a dialect with stored state reads or writes its store).
Parse = Callable[[dict[str, Any], str | None], ChatRequest | Awaitable[ChatRequest]]
BodyOf = Callable[[PricedCompletion], dict[str, Any] | Awaitable[dict[str, Any]]]
SendStream = Callable[[SseSink, PricedStream, ChatRequest], Awaitable[None]]


async def serve_chat(
    request: Request, scope: RequestScope, parse: Parse, body_of: BodyOf, send_stream: SendStream
) -> HTTPResponse | None:
    require_json(request.headers.get("content-type"))
    chat = parse(loads_object(request.body), provider_hint_of(request.headers.get(PROVIDER_HEADER)))
    if inspect.isawaitable(chat):
        chat = await chat
    deadline = deadline_of(request.headers.get(DEADLINE_HEADER))
    scope.stream, scope.metadata = chat.stream, chat.metadata
    gateway = scope.serving.gateway
    model = gateway.route(chat)
    await scope.admit(chat, model, request.headers.get(USER_HEADER))
    notices = lifecycle_headers(model, datetime.now(UTC).date())
    caching = scope.serving.caching
    plan = caching.plan(chat, model, scope.principal, directive_of(request.headers))
    scope.cache_result = plan.result
    if chat.stream:
        await _serve_stream(request, scope, chat, deadline, send_stream, (model, plan, notices))
        return None
    answer = await caching.lookup(plan)
    if answer is not None:
        priced = PricedCompletion(answer.replayed(), model, caching.hit_cost(answer), attempts=0)
        scope.answered_from_cache(answer.cost - priced.cost)
        headers = scope.served_by(answer.model, answer.provider_id, 0) | hit_headers(answer)
    else:
        priced = await gateway.complete(chat, deadline, scope.principal)
        headers = scope.served_by(priced.model.name, priced.model.provider_id, priced.attempts)
        headers |= plan_headers(plan)
    scope.priced(priced.completion.usage, priced.cost, priced.upstream_seconds, priced.pricer)
    headers |= notices | cost_headers(priced.cost, priced.completion.usage)
    body = body_of(priced)
    if inspect.isawaitable(body):
        body = await body
    encoded = dumps(body)  # before measuring: encoding is the gateway's time too
    if answer is None and plan.stores:
        caching.store_later(plan, priced, scope.request_id)
    return raw(encoded, headers=headers | scope.overhead_header(), content_type="application/json")


async def _serve_stream(
    request: Request,
    scope: RequestScope,
    chat: ChatRequest,
    deadline: float | None,
    send_stream: SendStream,
    cache: tuple[ModelSpec, CachePlan, dict[str, str]],
) -> None:
    """A live stream (recorded for the cache as it passes, when it may be kept), or a replay."""
    (model, plan, notices), caching = cache, scope.serving.caching
    cached = await caching.lookup_stream(plan)
    recorder: StreamRecorder | None = None
    if cached is not None:
        stream = await cached.replay(model, caching.hit_cost_fraction, caching.replay_pacing)
        headers = scope.served_by(cached.model, cached.provider_id, 0) | hit_headers(cached)
    else:
        stream = await scope.serving.gateway.stream(chat, deadline, scope.principal)
        headers = scope.served_by(stream.model.name, stream.model.provider_id, stream.attempts)
        headers |= plan_headers(plan)
        if plan.stores:
            stream.tap(recorder := StreamRecorder())
    headers |= notices
    scope.first_byte_seconds = time.perf_counter() - scope.started
    scope.upstream_seconds = stream.upstream_seconds
    try:
        sink = await SseSink.open(request, headers | scope.overhead_header(), scope.request_id)
        await send_stream(sink, stream, chat)
    finally:
        await stream.aclose()  # a no-op once the stream was read to its end
        scope.priced(stream.usage, stream.cost, stream.upstream_seconds, stream.pricer)
    if cached is not None:
        scope.answered_from_cache(cached.cost - (stream.cost or Decimal(0)))
    if sink.failure is not None:
        scope.error = http_error(sink.failure)[1]["error"]["code"]
    elif recorder is not None:
        caching.store_stream_later(plan, recorder, stream, scope.request_id)


def cost_headers(cost: Decimal, usage: Usage) -> dict[str, str]:
    """`X-Calcifer-Cost`, and `X-Calcifer-Cost-Estimated: true` when the gateway counted the
    tokens itself (a stream's headers leave before its usage is known: its flag is in the body)."""
    headers = {COST_HEADER: format_usd(cost)}
    if usage.estimated:
        headers[COST_ESTIMATED_HEADER] = "true"
    return headers


def provider_hint_of(header: str | None) -> str | None:
    """`X-Provider`: a provider id is printable ASCII; other bytes would reach the error
    message and could not be written as JSON (undecodable bytes arrive as surrogates)."""
    if header is not None and not (header.isascii() and header.isprintable()):
        raise InvalidRequest(f"{PROVIDER_HEADER} must be a provider id", param=PROVIDER_HEADER)
    return header


def deadline_of(header: str | None) -> float | None:
    """The monotonic time by which the client wants its answer (`X-Calcifer-Timeout-Ms`)."""
    if header is None:
        return None
    try:
        milliseconds = float(header)
    except ValueError:
        milliseconds = -1
    if not 0 < milliseconds < 86_400_000:
        raise InvalidRequest(
            f"{DEADLINE_HEADER} must be a positive number of milliseconds", param=DEADLINE_HEADER
        )
    return time.monotonic() + milliseconds / 1000
