"""The console's routes: HTML pages at `/admin/` and under `/admin/console/`, beside the admin
JSON API (`/admin/keys`, `/admin/spend`, ...), which they never shadow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, redirect

from calcifer.http.console import keys_page, models_page, overview, requests_page, spend_page
from calcifer.http.console.guard import console_page, sign_in, sign_in_form, sign_out
from calcifer.http.console.layout import BASE

__all__ = ["STATIC", "register_console"]

STATIC = Path(__file__).parent / "static"

# path, method, route name, handler(request, session, **params)
_PAGES: tuple[tuple[str, str, str, Any], ...] = (
    ("/admin/", "GET", "console_overview", overview.overview),
    (f"{BASE}/spend", "GET", "console_spend", spend_page.spend_page),
    (f"{BASE}/spend.csv", "GET", "console_spend_csv", spend_page.spend_csv),
    (f"{BASE}/keys", "GET", "console_keys", keys_page.keys_page),
    (f"{BASE}/keys", "POST", "console_create_key", keys_page.create_key),
    (f"{BASE}/keys/<key_id>", "POST", "console_edit_key", keys_page.edit_key),
    (f"{BASE}/keys/<key_id>/revoke", "POST", "console_revoke_key", keys_page.revoke_key),
    (f"{BASE}/teams", "POST", "console_create_team", keys_page.create_team),
    (f"{BASE}/teams/<team_id>", "POST", "console_edit_team", keys_page.edit_team),
    (f"{BASE}/models", "GET", "console_models", models_page.models_page),
    (f"{BASE}/requests", "GET", "console_requests", requests_page.requests_page),
    (f"{BASE}/requests/<request_id>", "GET", "console_request", requests_page.request_detail),
    (f"{BASE}/sign-out", "POST", "console_sign_out", sign_out),
)


def register_console(app: Sanic[Any, Any]) -> None:
    for path, method, name, handler in _PAGES:
        app.add_route(console_page(handler), path, methods=[method], name=name)
    app.add_route(_sign_in_page, f"{BASE}/sign-in", methods=["GET"], name="console_sign_in_form")
    app.add_route(sign_in, f"{BASE}/sign-in", methods=["POST"], name="console_sign_in")
    app.add_route(_to_console, BASE, methods=["GET"], name="console_base")
    app.static(f"{BASE}/static", str(STATIC), name="console_static")


async def _sign_in_page(request: Request) -> HTTPResponse:
    return await sign_in_form(request)


async def _to_console(request: Request) -> HTTPResponse:
    return redirect("/admin/", status=301)
