"""Who may see the console: sign-in with the master key, the session cookie, CSRF on every change.

Every console handler is wrapped by `console_page`: no valid session → the sign-in page; a POST
without the session's CSRF token or from another origin → 403; a Calcifer error → its status
and message on the page (never a traceback).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from loguru import logger
from sanic import Request
from sanic.response import HTTPResponse, redirect

from calcifer.errors import CalciferError
from calcifer.http.console.layout import BASE, esc, html_page, page
from calcifer.http.console.session import COOKIE, CSRF_FIELD, Session, SessionSigner, same_origin
from calcifer.http.errors import http_error

__all__ = [
    "ConsolePage",
    "console_page",
    "current_session",
    "form_fields",
    "sign_in",
    "sign_in_form",
    "sign_out",
]

ConsolePage = Callable[..., Awaitable[HTTPResponse]]
"""`handler(request, session, **path_params)`."""
Route = Callable[..., Coroutine[Any, Any, HTTPResponse]]
"""What Sanic calls: `route(request, **path_params)`."""

WRONG_KEY_PAUSE_SECONDS = 0.5
"""A wrong master key is answered after this pause: guessing gets slow, nothing else waits."""

SIGN_IN = f"{BASE}/sign-in"


def _signer(request: Request) -> SessionSigner | None:
    signer: SessionSigner | None = getattr(request.app.ctx, "console_signer", None)
    return signer


def current_session(request: Request) -> Session | None:
    signer = _signer(request)
    return signer.session(request.cookies.get(COOKIE)) if signer is not None else None


def console_page(handler: ConsolePage) -> Route:
    @functools.wraps(handler)
    async def guarded(request: Request, **params: str) -> HTTPResponse:
        session = current_session(request)
        if session is None:
            return redirect(SIGN_IN, status=303, headers={"Cache-Control": "no-store"})
        if request.method == "POST" and not _change_allowed(request, session):
            body = page(
                "Refused", "<p>This change did not come from a console page. Reload and retry.</p>", session
            )
            return html_page(body, status=403)
        try:
            return await handler(request, session, **params)
        except CalciferError as exc:
            status, error, _ = http_error(exc, None)
            text = page("Error", f"<p>{esc(error['error']['message'])}</p>", session)
            return html_page(text, status=status)

    return guarded


def _change_allowed(request: Request, session: Session) -> bool:
    token = request.form.get(CSRF_FIELD, "") if request.form else ""
    return same_origin(request) and hmac.compare_digest(str(token).encode(), session.csrf_token.encode())


async def sign_in_form(request: Request, message: str = "", status: int = 200) -> HTTPResponse:
    if _signer(request) is None:
        body = "<p>The console is off: start the gateway with CALCIFER_MASTER_KEY set.</p>"
        return html_page(page("Sign in", body, None), status=503)
    if current_session(request) is not None and not message:
        return redirect("/admin/", status=303)
    body = (
        f'<form method="post" action="{SIGN_IN}" class="sign-in card">'
        '<label for="master-key">Master key</label>'
        '<input type="password" id="master-key" name="master_key" autocomplete="current-password" required>'
        '<button type="submit" id="sign-in">Sign in</button></form>'
    )
    return html_page(page("Sign in", body, None, flash=message), status=status)


async def sign_in(request: Request) -> HTTPResponse:
    signer = _signer(request)
    master_key: str | None = request.app.ctx.master_key
    if signer is None or not master_key:
        return await sign_in_form(request)
    given = str(request.form.get("master_key", "")) if request.form else ""
    if not same_origin(request) or not hmac.compare_digest(given.encode(), master_key.encode()):
        logger.warning(
            "console: a sign-in with a wrong master key from {}", request.remote_addr or request.ip
        )
        await asyncio.sleep(WRONG_KEY_PAUSE_SECONDS)
        return await sign_in_form(request, "That is not the master key.", status=401)
    settings = request.app.ctx.console_settings
    value, _ = signer.issue(settings.session_seconds)
    response = redirect("/admin/", status=303, headers={"Cache-Control": "no-store"})
    _set_cookie(response, request, value, settings.session_seconds)
    return response


async def sign_out(request: Request, session: Session) -> HTTPResponse:
    response = redirect(SIGN_IN, status=303, headers={"Cache-Control": "no-store"})
    _set_cookie(response, request, "", 0)
    return response


def _set_cookie(response: HTTPResponse, request: Request, value: str, max_age: int) -> None:
    secure = request.scheme == "https" or request.app.ctx.console_settings.secure_cookies
    response.add_cookie(
        COOKIE, value, path="/admin", max_age=max_age, httponly=True, samesite="Strict", secure=secure
    )


def form_fields(request: Request) -> dict[str, str]:
    """A submitted form, one value a field, without the CSRF token."""
    if not request.form:
        return {}
    return {name: str(values[-1]).strip() for name, values in request.form.items() if name != CSRF_FIELD}
