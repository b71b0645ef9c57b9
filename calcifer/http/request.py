"""Sanic's request, made to survive a request head it could not parse."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sanic import Request

__all__ = ["GatewayRequest", "is_stand_in"]

# Sanic answers a head it could not read (too large, a bad URL) with a stand-in request of
# this method: there is no real method, headers or body behind it.
_STAND_IN_METHOD = "NONE"
# Every printable ASCII byte but the space stays as it is; anything else is %-escaped.
_URL_SAFE = "".join(chr(b) for b in range(0x21, 0x7F))


class GatewayRequest(Request):
    """Sanic builds its stand-in request from the URL it could not parse (a NUL byte, say),
    which fails again and drops the connection with a traceback; escape that URL first."""

    def __init__(self, url_bytes: bytes, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("method") == _STAND_IN_METHOD:
            url_bytes = quote(url_bytes, safe=_URL_SAFE).encode("ascii")
        super().__init__(url_bytes, *args, **kwargs)


def is_stand_in(request: Request | None) -> bool:
    """Whether `request` is Sanic's stand-in for a head it could not read."""
    return request is None or request.method == _STAND_IN_METHOD
