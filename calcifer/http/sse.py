"""Server-sent events over a Sanic streaming response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from loguru import logger
from sanic import Request
from sanic.response.types import HTTPResponse

from calcifer.errors import CalciferError, ServerShuttingDown
from calcifer.http.errors import http_error

__all__ = ["SSE_HEADERS", "SseSink"]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class SseSink:
    """Where a handler writes events once the response has started.

    Open sinks are listed in `open_sinks` so that a shutting-down worker can end the
    streams still running when its grace period is over, each with a terminal error event.
    """

    def __init__(self, response: HTTPResponse, request_id: str, open_sinks: set[SseSink]) -> None:
        self._response = response
        self._request_id = request_id
        self._open_sinks = open_sinks
        self._task = asyncio.current_task()
        self._shutting_down = False
        self.failure: CalciferError | None = None

    @classmethod
    async def open(cls, request: Request, headers: dict[str, str], request_id: str) -> SseSink:
        response = await request.respond(content_type="text/event-stream", headers={**SSE_HEADERS, **headers})
        assert isinstance(response, HTTPResponse)
        return cls(response, request_id, request.app.ctx.open_sinks)

    def shut_down(self) -> None:
        """End this stream now: the worker is stopping and its grace period is over."""
        if self._task is not None and not self._shutting_down:
            self._shutting_down = True
            self._task.cancel()

    async def send(self, data: bytes) -> None:
        await self._response.send(data)

    @asynccontextmanager
    async def errors_as(self, encode: Callable[[dict[str, Any]], bytes]) -> AsyncIterator[None]:
        """Turn a gateway error raised after the first byte into a terminal error event.

        Headers are gone by then, so the status cannot change; the client learns of the
        failure from the event, in its own protocol, and the stream ends."""
        self._open_sinks.add(self)
        try:
            yield
        except asyncio.CancelledError:
            if not self._shutting_down:
                raise  # the client went away: there is no one left to tell
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            await self._fail(ServerShuttingDown("The gateway is shutting down; retry the request"), encode)
        except CalciferError as exc:
            await self._fail(exc, encode)
        finally:
            self._open_sinks.discard(self)
        await self._response.eof()  # type: ignore[no-untyped-call]

    async def _fail(self, error: CalciferError, encode: Callable[[dict[str, Any]], bytes]) -> None:
        self.failure = error
        _, body, _ = http_error(error, self._request_id)
        logger.bind(request_id=self._request_id).warning("stream ended after start: {}", error.message)
        await self._response.send(encode(body))
