"""Credentials on incoming requests: the master key of the admin API."""

from __future__ import annotations

import hmac

from sanic import Request

from calcifer.errors import AdminDenied, AdminDisabled

__all__ = ["bearer_token", "require_master_key"]


def bearer_token(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def require_master_key(request: Request, master_key: str | None) -> None:
    if not master_key:
        raise AdminDisabled("The admin API is off: set CALCIFER_MASTER_KEY to enable it")
    if not hmac.compare_digest(bearer_token(request).encode(), master_key.encode()):
        raise AdminDenied("A valid master key is required (Authorization: Bearer ...)")
