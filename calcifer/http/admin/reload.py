"""`POST /admin/reload`: validate the catalog files and, when valid and changed, serve them
(every worker of the machine follows within a second)."""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.http.auth import require_master_key
from calcifer.http.jsonio import json_response
from calcifer.http.scope import RequestScope

__all__ = ["admin_reload"]


async def admin_reload(request: Request, scope: RequestScope) -> HTTPResponse:
    require_master_key(request, request.app.ctx.master_key)
    result = await request.app.ctx.runtime.reload("admin endpoint")
    body = {
        "reloaded": result.reloaded,
        "catalog_version": result.catalog_version,
        "problems": result.problems,
    }
    return json_response(body, status=422 if result.problems else 200)
