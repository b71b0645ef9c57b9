"""`GET /health`: a constant answer for probes; `?detail=1`, with the master key, adds the
catalog and each deployment's breaker (the same whichever worker answers: breakers are shared),
and the state of keys, limits and the ledger on the worker that answers."""

from __future__ import annotations

import os

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.http.auth import require_master_key
from calcifer.http.jsonio import json_response

__all__ = ["health"]


async def health(request: Request) -> HTTPResponse:
    if not request.args.get("detail"):
        return HTTPResponse(b'{"status":"healthy"}', content_type="application/json")
    # The detail maps the gateway's providers and their health: for operators only.
    require_master_key(request, request.app.ctx.master_key)
    runtime = request.app.ctx.runtime
    catalog = runtime.current
    last = runtime.last_reload
    detail = {
        "status": "healthy",
        "catalog_version": catalog.catalog_version,
        "last_reload": last.snapshot() if last is not None else None,
        "worker_pid": os.getpid(),
        "deployments": [state.snapshot() for state in catalog.gateway.balancer.all_states()],
        "access": request.app.ctx.access.snapshot(),
    }
    return json_response(detail)
