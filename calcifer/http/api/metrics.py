"""`GET /metrics` (the path is configurable): Prometheus text, summed over every worker.

Behind the master key unless `metrics.public`; the page names models, providers and, with
`metrics.per_key`, key ids — never a secret.
"""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.http.auth import require_master_key
from calcifer.telemetry.metrics import CONTENT_TYPE

__all__ = ["metrics"]


async def metrics(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    if not ctx.metrics_public:
        require_master_key(request, ctx.master_key)
    return HTTPResponse(ctx.metrics.exposition(), content_type=CONTENT_TYPE)
