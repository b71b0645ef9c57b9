"""CORS for browser clients: pre-flight answers and the allow-origin header."""

from __future__ import annotations

from sanic import Request
from sanic.response import BaseHTTPResponse, HTTPResponse

from calcifer.settings import CorsSettings

__all__ = ["Cors"]


class Cors:
    def __init__(self, settings: CorsSettings) -> None:
        self._any_origin = "*" in settings.allowed_origins
        self._origins = frozenset(settings.allowed_origins)
        self._methods = ", ".join(settings.allowed_methods)
        self._headers = ", ".join((*settings.allowed_headers, "X-Provider", "X-Request-Id"))

    def _allowed(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if self._any_origin:
            return "*"
        return origin if origin in self._origins else None

    def preflight(self, request: Request) -> HTTPResponse | None:
        """Request middleware: answer OPTIONS pre-flights before routing."""
        if request.method != "OPTIONS" or "access-control-request-method" not in request.headers:
            return None
        headers = {
            "Access-Control-Allow-Methods": self._methods,
            "Access-Control-Allow-Headers": self._headers,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        allowed = self._allowed(request.headers.get("origin"))
        if allowed:
            headers["Access-Control-Allow-Origin"] = allowed
        return HTTPResponse(status=204, headers=headers)

    def decorate(self, request: Request, response: BaseHTTPResponse) -> None:
        """Response middleware: let allowed browser origins read the answer."""
        allowed = self._allowed(request.headers.get("origin"))
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Expose-Headers"] = (
                "X-Request-Id, X-Calcifer-Cost, X-Calcifer-Model, X-Calcifer-Provider, X-Calcifer-Overhead-Ms"
            )
            if allowed != "*":
                response.headers["Vary"] = "Origin"
