"""Credentials on incoming requests: the master key of the admin API, or a console session."""

from __future__ import annotations

import hmac

from sanic import Request

from calcifer.errors import AdminDenied, AdminDisabled
from calcifer.http.console.session import COOKIE, CSRF_HEADER, SessionSigner, same_origin

__all__ = ["bearer_token", "require_admin", "require_master_key"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def require_master_key(request: Request, master_key: str | None) -> None:
    if not master_key:
        raise AdminDisabled("The admin API is off: set CALCIFER_MASTER_KEY to enable it")
    if not hmac.compare_digest(bearer_token(request).encode(), master_key.encode()):
        raise AdminDenied("A valid master key is required (Authorization: Bearer ...)")


def require_admin(request: Request) -> None:
    """The master key as a Bearer token; or, from the console's pages, its session cookie with
    the session's CSRF token in `X-CSRF-Token` (and, for a change, a same-origin `Origin`). A
    cookie alone never authorises anything: a page of another site can make the browser send
    it, but cannot read the token."""
    master_key: str | None = request.app.ctx.master_key
    cookie = request.cookies.get(COOKIE)
    if bearer_token(request) or not cookie or not master_key:
        require_master_key(request, master_key)
        return
    signer: SessionSigner | None = getattr(request.app.ctx, "console_signer", None)
    session = signer.session(cookie) if signer is not None else None
    token = request.headers.get(CSRF_HEADER, "")
    if session is None or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise AdminDenied(
            "A valid master key is required (Authorization: Bearer ...), or a console session "
            "with its CSRF token (X-CSRF-Token)"
        )
    if request.method not in _SAFE_METHODS and not same_origin(request):
        raise AdminDenied("A change from the console must come from the console's own origin")
