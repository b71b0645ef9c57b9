"""What every API request goes through around its handler, in one place.

The request id, the SERVER span, the mapping of gateway errors to JSON responses and
the one log line per request. Sanic middleware cannot wrap a handler (it only runs
before or after it), and a streamed response ends long after response middleware has
run, so this is a decorator applied when routes are registered.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger
from opentelemetry.trace import Span, Status, StatusCode
from sanic import Request
from sanic.response import HTTPResponse, raw

from calcifer.domain.usage import Usage
from calcifer.errors import CalciferError
from calcifer.http.errors import error_row, http_error
from calcifer.http.jsonio import dumps
from calcifer.telemetry.tracing import ServerTracing

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["RequestScope", "assign_request_id", "json_response", "scoped"]

REQUEST_ID_HEADER = "X-Request-Id"
_MAX_CLIENT_REQUEST_ID = 128
OVERHEAD_HEADER = "X-Calcifer-Overhead-Ms"
CLIENT_CLOSED_REQUEST = 499
"""The status logged for a client that left before the answer ended (nginx's convention)."""

Handler = Callable[..., Awaitable[HTTPResponse | None]]
"""`handler(request, scope, **path_params)`."""


@dataclass(slots=True)
class RequestScope:
    """What is known of one request as it is served; filled in by the handler."""

    request_id: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 200
    model: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    stream: bool = False
    error: str | None = None
    log_level: str = "INFO"
    metadata: dict[str, Any] | None = None
    """The client's `metadata` object, recorded on the request's log line."""
    catalog_version: str | None = None
    upstream_seconds: float = 0.0
    """Time spent waiting for the provider; everything else is the gateway's own time."""

    def served_by(self, model: str, provider: str, attempts: int) -> dict[str, str]:
        """Note who serves the request; returns the headers saying so."""
        self.model, self.provider = model, provider
        return {
            "X-Calcifer-Model": model,
            "X-Calcifer-Provider": provider,
            "X-Calcifer-Attempts": str(attempts),
        }

    def priced(self, usage: Usage | None, cost: Decimal | None, upstream_seconds: float) -> None:
        self.usage, self.cost, self.upstream_seconds = usage, cost, upstream_seconds

    def overhead_ms(self) -> float:
        """Milliseconds spent in the gateway so far, the provider's time excluded."""
        return (time.perf_counter() - self.started - self.upstream_seconds) * 1000

    def overhead_header(self) -> dict[str, str]:
        return {OVERHEAD_HEADER: f"{self.overhead_ms():.3f}"}


def assign_request_id(request: Request) -> None:
    """Request middleware: keep the client's X-Request-Id when it is sane, else make one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    ok = 0 < len(given) <= _MAX_CLIENT_REQUEST_ID and given.isprintable()
    request.ctx.request_id = given if ok else os.urandom(16).hex()  # uuid4().hex, a third of the cost


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    return raw(dumps(body), status=status, headers=headers, content_type="application/json")


def scoped(route: str, handler: Handler) -> Callable[..., Coroutine[Any, Any, HTTPResponse | None]]:
    async def serve(request: Request, **params: str) -> HTTPResponse | None:
        scope = RequestScope(request_id=request.ctx.request_id, route=route)
        tracing: ServerTracing = request.app.ctx.tracing
        # The catalog this request started on serves it to its end, even if it is reloaded.
        api = request.ctx.api = request.app.ctx.runtime.current
        api.enter()
        with tracing.server_span(request.method, route, request.headers) as span:
            try:
                response = await handler(request, scope, **params)
            except CalciferError as exc:
                response = _error_response(exc, scope)
            except asyncio.CancelledError:
                scope.status, scope.error = CLIENT_CLOSED_REQUEST, "client disconnected"
                raise
            except Exception as exc:
                scope.status, scope.error, scope.log_level = 500, type(exc).__name__, "ERROR"
                raise
            finally:
                api.leave()
                scope.catalog_version = api.catalog_version
                _finish(scope, span)
        return response

    serve.__name__ = handler.__name__
    return serve


def _error_response(exc: CalciferError, scope: RequestScope) -> HTTPResponse:
    status, body, headers = http_error(exc, scope.request_id)
    scope.status, scope.error = status, body["error"]["code"]
    scope.log_level = error_row(exc).log_level
    return json_response(body, status=status, headers=headers)


def _finish(scope: RequestScope, span: Span) -> None:
    overhead_ms = round(scope.overhead_ms(), 3)
    span.set_attribute("http.response.status_code", scope.status)
    span.set_attribute("calcifer.overhead_ms", overhead_ms)
    if scope.status >= 500 or scope.status == CLIENT_CLOSED_REQUEST:
        span.set_status(Status(StatusCode.ERROR, scope.error or ""))
    line = logger.bind(
        request_id=scope.request_id,
        route=scope.route,
        model=scope.model,
        provider=scope.provider,
        status=scope.status,
        stream=scope.stream or None,
        prompt_tokens=scope.usage.prompt_tokens if scope.usage else None,
        completion_tokens=scope.usage.completion_tokens if scope.usage else None,
        cost=str(scope.cost) if scope.cost is not None else None,
        latency_ms=round((time.perf_counter() - scope.started) * 1000, 2),
        overhead_ms=overhead_ms,
        error=scope.error,
        metadata=scope.metadata,
        catalog=scope.catalog_version,
    )
    # Written once the response has gone out (the task yields after writing it), so the
    # client does not wait for the log line: ~0.05 ms at c=1.
    asyncio.get_running_loop().call_soon(_log_request, line, scope.log_level)


def _log_request(line: Logger, level: str) -> None:
    line.log(level, "request")  # called here, so the line names this module as its logger
