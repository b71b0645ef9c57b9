"""Console sessions: an HMAC-signed cookie that holds when the session ends, and the CSRF token
derived from it. Nothing is kept on the server, so every worker and replica accepts a session
another one issued.

The signing key is derived from the store's key-hashing secret (shared by all replicas) and the
master key, so changing the master key ends every session. The master key itself is never put
in the cookie. A session ends at its expiry or when the browser drops the cookie at sign-out; a
copied cookie stays valid until its expiry (keep `console.session_seconds` short).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sanic import Request

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "Session",
    "SessionSigner",
    "same_origin",
]

COOKIE = "calcifer_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Session:
    expires_at: int
    """Unix time (seconds)."""
    csrf_token: str


class SessionSigner:
    """Issues and checks session cookies with one key (see the module docstring)."""

    def __init__(self, hashing_secret: bytes, master_key: str) -> None:
        self._key = hmac.new(
            hashing_secret, b"calcifer console session\0" + master_key.encode(), "sha256"
        ).digest()

    def issue(self, lifetime_seconds: int, now: float | None = None) -> tuple[str, Session]:
        """A new cookie value and the session it stands for."""
        expires = int((time.time() if now is None else now) + lifetime_seconds)
        nonce = secrets.token_urlsafe(18)
        payload = f"{expires}.{nonce}"
        value = f"{payload}.{self._sign('cookie', payload)}"
        return value, Session(expires, self._sign("csrf", payload))

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie stands for; None when it is missing, forged or expired."""
        if not cookie or cookie.count(".") != 2:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign("cookie", payload)):
            return None
        expires_text = payload.partition(".")[0]
        if not expires_text.isdigit() or int(expires_text) <= (time.time() if now is None else now):
            return None
        return Session(int(expires_text), self._sign("csrf", payload))

    def _sign(self, purpose: str, payload: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\0{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same_origin(request: Request) -> bool:
    """Whether a change came from a page of this gateway: its `Origin` (or, when a browser
    sends none, its `Referer`) names the host the request was sent to."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    if not source or source == "null":
        return False
    scheme, _, rest = source.partition("://")
    host = rest.split("/", 1)[0]
    return scheme in {"http", "https"} and host.lower() == request.host.lower()
