"""Every request and response carries an id: the client's `X-Request-Id` when sane, else ours."""

from __future__ import annotations

import os

from sanic import Request
from sanic.response import BaseHTTPResponse

__all__ = ["REQUEST_ID_HEADER", "RequestId"]

REQUEST_ID_HEADER = "X-Request-Id"
_MAX_CLIENT_REQUEST_ID = 128


class RequestId:
    """Runs as Sanic middleware, so 404s, health checks and Sanic's own errors have an id too."""

    def assign(self, request: Request) -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        ok = 0 < len(given) <= _MAX_CLIENT_REQUEST_ID and given.isprintable()
        request.ctx.request_id = given if ok else os.urandom(16).hex()  # uuid4().hex, a third of the cost

    def tag(self, request: Request, response: BaseHTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
