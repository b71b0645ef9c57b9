"""The ordered steps every API request goes through around its handler.

    request id → CORS                         (Sanic middleware: every response, 404s too)
    pin catalog → authenticate → admit → span → handler → settle → metrics → log line

A hook is a small object with `async enter(request, scope)` (runs in order before the
handler; raising a Calcifer error refuses the request) and/or `exit(scope)` (runs in order
after the handler, on every exit path: answered, refused, failed, client gone). Sanic
middleware cannot wrap a handler, and a streamed response ends long after response
middleware has run, so the pipeline wraps each API route when routes are registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from loguru import logger
from sanic import Request
from sanic.response import HTTPResponse

from calcifer.errors import AccessDenied, CalciferError
from calcifer.http.errors import ErrorShape, error_row, http_error, openai_shape
from calcifer.http.jsonio import json_response
from calcifer.http.scope import CLIENT_CLOSED_REQUEST, RequestScope

__all__ = ["Handler", "Hook", "Pipeline"]

Handler = Callable[..., Awaitable[HTTPResponse | None]]
"""`handler(request, scope, **path_params)`."""

Enter = Callable[[Request, RequestScope], Awaitable[None]]
Exit = Callable[[RequestScope], None]


class Hook(Protocol):
    """A step of the pipeline; it implements `enter`, `exit` or both (see the module doc)."""


class Pipeline:
    def __init__(self, hooks: Sequence[Hook] = ()) -> None:
        self.install(hooks)

    def install(self, hooks: Sequence[Hook]) -> None:
        """Routes are wrapped when the app is made; the hooks, which need the worker's event
        loop and process scope, are installed when the worker starts."""
        self.hooks = tuple(hooks)
        self._enters: tuple[Enter, ...] = tuple(h.enter for h in hooks if hasattr(h, "enter"))
        self._exits: tuple[Exit, ...] = tuple(h.exit for h in hooks if hasattr(h, "exit"))

    def wrap(
        self, route: str, handler: Handler, shape: ErrorShape = openai_shape
    ) -> Callable[..., Coroutine[Any, Any, HTTPResponse | None]]:
        """`handler` behind the hooks; its errors are answered in `shape` (its dialect's)."""
        pipeline = self

        async def serve(request: Request, **params: str) -> HTTPResponse | None:
            enters, exits = pipeline._enters, pipeline._exits
            request.ctx.piped = True  # its log line is the pipeline's (see JsonErrorHandler)
            scope = RequestScope(request_id=request.ctx.request_id, route=route)
            try:
                for enter in enters:
                    await enter(request, scope)
                response = await handler(request, scope, **params)
                if response is not None:  # a handler may answer with any status (422, 201...)
                    scope.status = response.status
                return response
            except CalciferError as exc:
                return _error_response(exc, scope, shape)
            except asyncio.CancelledError:
                scope.status, scope.error = CLIENT_CLOSED_REQUEST, "client disconnected"
                raise
            except Exception as exc:
                scope.status, scope.error, scope.log_level = 500, type(exc).__name__, "ERROR"
                raise
            finally:
                for leave in exits:
                    _run_exit(leave, scope)

        serve.__name__ = handler.__name__
        return serve


def _error_response(exc: CalciferError, scope: RequestScope, shape: ErrorShape) -> HTTPResponse:
    status, body, headers = http_error(exc, scope.request_id)
    scope.status, scope.error = status, body["error"]["code"]
    scope.log_level = error_row(exc).log_level
    if isinstance(exc, AccessDenied):
        scope.refused_scope = exc.scope
    return json_response(shape(status, body), status=status, headers=headers)


def _run_exit(leave: Exit, scope: RequestScope) -> None:
    """An exit hook that fails must not keep the others (releases, the log line) from running."""
    try:
        leave(scope)
    except Exception:  # noqa: BLE001 - logged with its traceback; the next hooks still run
        logger.opt(exception=True).bind(request_id=scope.request_id).error("request hook failed")
