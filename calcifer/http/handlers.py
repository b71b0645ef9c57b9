"""Thin handlers: parse the request, call the gateway, write the answer."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, raw

from calcifer.catalog.model import Catalog
from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.directory import ProviderDirectory
from calcifer.domain.gateway import Gateway
from calcifer.domain.models import ModelSpec
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import format_usd
from calcifer.errors import AdminDenied, AdminDisabled, InvalidRequest, ModelNotFound
from calcifer.http.api import completions as seed_api
from calcifer.http.api import openai_chat as openai_api
from calcifer.http.errors import http_error
from calcifer.http.jsonio import dumps, loads_object
from calcifer.http.lifecycle import RequestScope, json_response
from calcifer.http.parsing import parse_chat_request, parse_seed_request
from calcifer.http.sse import SseSink

__all__ = [
    "Api",
    "admin_reload",
    "chat_completions",
    "completions",
    "health",
    "list_models",
    "retrieve_model",
]

PROVIDER_HEADER = "X-Provider"
DEADLINE_HEADER = "X-Calcifer-Timeout-Ms"
COST_HEADER = "X-Calcifer-Cost"

Parse = Callable[[dict[str, Any], str | None], ChatRequest]
BodyOf = Callable[[PricedCompletion], dict[str, Any]]
SendStream = Callable[[SseSink, PricedStream, ChatRequest], Awaitable[None]]


class Api:
    """The services handlers use in one worker, built when the worker starts."""

    def __init__(self, gateway: Gateway, catalog: Catalog, directory: ProviderDirectory) -> None:
        self.gateway = gateway
        self.catalog_version = catalog.version
        self._directory = directory
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._listing = {model.name: _model_entry(model) for model in gateway.models}
        self._aliases = {alias: model.name for model in gateway.models for alias in model.aliases}
        self.models_body = dumps({"object": "list", "data": list(self._listing.values())})

    def enter(self) -> None:
        """A request starts on this catalog (it keeps it to its end, even across a reload)."""
        self._in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def drained(self) -> None:
        await self._idle.wait()

    async def close(self) -> None:
        for provider in self._directory.all():
            await provider.aclose()

    def model_entry(self, name: str) -> dict[str, Any]:
        entry = self._listing.get(self._aliases.get(name, name))
        if entry is None:
            raise ModelNotFound(name)
        return entry


async def chat_completions(request: Request, scope: RequestScope) -> HTTPResponse | None:
    return await _serve(request, scope, parse_chat_request, openai_api.completion_body, _send_chunks)


async def completions(request: Request, scope: RequestScope) -> HTTPResponse | None:
    return await _serve(request, scope, parse_seed_request, seed_api.completion_body, _send_deltas)


async def list_models(request: Request, scope: RequestScope) -> HTTPResponse:
    api: Api = request.ctx.api
    return HTTPResponse(api.models_body, content_type="application/json")


async def retrieve_model(request: Request, scope: RequestScope, name: str) -> HTTPResponse:
    api: Api = request.ctx.api
    return json_response(api.model_entry(name))


async def health(request: Request) -> HTTPResponse:
    if not request.args.get("detail"):
        return HTTPResponse(b'{"status":"healthy"}', content_type="application/json")
    api: Api = request.app.ctx.runtime.current
    states = api.gateway.balancer.all_states()
    detail = {
        "status": "healthy",
        "catalog_version": api.catalog_version,
        "deployments": [state.snapshot() for state in states],
    }
    return json_response(detail)


async def admin_reload(request: Request, scope: RequestScope) -> HTTPResponse:
    """Validate the catalog files and, when they are valid and changed, serve them."""
    master_key: str | None = request.app.ctx.master_key
    if not master_key:
        raise AdminDisabled("The admin API is off: set CALCIFER_MASTER_KEY to enable it")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), master_key.encode()):
        raise AdminDenied("A valid master key is required (Authorization: Bearer ...)")
    result = await request.app.ctx.runtime.reload("admin endpoint")
    body = {
        "reloaded": result.reloaded,
        "catalog_version": result.catalog_version,
        "problems": result.problems,
    }
    return json_response(body, status=422 if result.problems else 200)


async def _serve(
    request: Request, scope: RequestScope, parse: Parse, body_of: BodyOf, send_stream: SendStream
) -> HTTPResponse | None:
    api: Api = request.ctx.api
    chat = parse(loads_object(request.body), request.headers.get(PROVIDER_HEADER))
    deadline = _deadline(request.headers.get(DEADLINE_HEADER))
    scope.stream, scope.metadata = chat.stream, chat.metadata
    if chat.stream:
        stream = await api.gateway.stream(chat, deadline)
        headers = scope.served_by(stream.model.name, stream.model.provider_id, stream.attempts)
        scope.upstream_seconds = stream.upstream_seconds
        try:
            sink = await SseSink.open(request, headers | scope.overhead_header(), scope.request_id)
            await send_stream(sink, stream, chat)
        finally:
            await stream.aclose()  # a no-op once the stream was read to its end
            scope.priced(stream.usage, stream.cost, stream.upstream_seconds)
        if sink.failure is not None:
            scope.error = http_error(sink.failure)[1]["error"]["code"]
        return None
    priced = await api.gateway.complete(chat, deadline)
    headers = scope.served_by(priced.model.name, priced.model.provider_id, priced.attempts)
    scope.priced(priced.completion.usage, priced.cost, priced.upstream_seconds)
    headers[COST_HEADER] = format_usd(priced.cost)
    encoded = dumps(body_of(priced))  # before measuring: encoding is the gateway's time too
    return raw(encoded, headers=headers | scope.overhead_header(), content_type="application/json")


async def _send_chunks(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    await openai_api.send_chunk_stream(sink, stream, chat.include_usage)


async def _send_deltas(sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
    await seed_api.send_delta_stream(sink, stream)


def _deadline(header: str | None) -> float | None:
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


def _model_entry(model: ModelSpec) -> dict[str, Any]:
    """OpenAI's model object plus `provider` and OpenRouter-style `pricing` (USD per token)."""
    price = model.price
    return {
        "id": model.name,
        "object": "model",
        "created": 0,
        "owned_by": model.provider_id,
        "provider": model.provider_id,
        "aliases": list(model.aliases),
        "context_length": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "pricing": {
            "prompt": format_usd(price.per_token("input")),
            "completion": format_usd(price.per_token("output")),
            "input_cache_read": format_usd(price.per_token("cached_input")),
            "input_cache_write": format_usd(price.per_token("cache_write")),
        },
    }
