"""Server-sent events over a Sanic streaming response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from loguru import logger
from sanic import Request
from sanic.response.types import HTTPResponse

from calcifer.errors import CalciferError
from calcifer.http.errors import http_error

__all__ = ["SSE_HEADERS", "SseSink"]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class SseSink:
    """Where a handler writes events once the response has started."""

    def __init__(self, response: HTTPResponse, request_id: str) -> None:
        self._response = response
        self._request_id = request_id
        self.failure: CalciferError | None = None

    @classmethod
    async def open(cls, request: Request, headers: dict[str, str], request_id: str) -> SseSink:
        response = await request.respond(content_type="text/event-stream", headers={**SSE_HEADERS, **headers})
        assert isinstance(response, HTTPResponse)
        return cls(response, request_id)

    async def send(self, data: bytes) -> None:
        await self._response.send(data)

    @asynccontextmanager
    async def errors_as(self, encode: Callable[[dict[str, Any]], bytes]) -> AsyncIterator[None]:
        """Turn a gateway error raised after the first byte into a terminal error event.

        Headers are gone by then, so the status cannot change; the client learns of the
        failure from the event, in its own protocol, and the stream ends."""
        try:
            yield
        except CalciferError as exc:
            self.failure = exc
            _, body, _ = http_error(exc, self._request_id)
            logger.bind(request_id=self._request_id).warning("stream failed after start: {}", exc.message)
            await self._response.send(encode(body))
        await self._response.eof()  # type: ignore[no-untyped-call]
