"""`GET /metrics` (the path is configurable): Prometheus text, summed over every worker.

Behind the master key unless `metrics.public`; the page names models, providers and, with
`metrics.per_key`, key and team ids — never a secret. With `metrics.per_key` the scrape also
reads each budget's remaining USD (`calcifer_budget_remaining_usd`): one ledger query per key
or team with a budget, so only for a bounded number of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from loguru import logger
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.access import AccessScope, ScopeKind
from calcifer.errors import StoreUnavailable
from calcifer.http.admin.services import AccessServices
from calcifer.http.admin.views import budget_view, scope_usage
from calcifer.http.auth import require_master_key
from calcifer.telemetry.metrics import CONTENT_TYPE

__all__ = ["metrics"]


async def metrics(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    if not ctx.metrics_public:
        require_master_key(request, ctx.master_key)
    text = ctx.metrics.exposition()
    if ctx.metrics_per_key and ctx.access.directory is not None:
        try:
            text += await _budget_exposition(ctx.access)
        except StoreUnavailable as exc:  # the rest of the scrape is still worth having
            logger.warning("metrics: budgets not reported: {}", exc)
    return HTTPResponse(text, content_type=CONTENT_TYPE)


async def _budget_exposition(services: AccessServices) -> bytes:
    scopes = [
        AccessScope(ScopeKind.KEY, key.id, key.budget, key.limits)
        for key in await services.key_store.list_keys()
        if key.revoked_at is None and key.budget is not None
    ]
    scopes += [
        AccessScope(ScopeKind.TEAM, team.id, team.budget, team.limits)
        for team in await services.key_store.list_teams()
        if team.budget is not None
    ]
    now = datetime.now(UTC)
    remaining = []
    for scope in scopes:
        assert scope.budget is not None
        view = await budget_view(services, scope, scope.budget, now, await scope_usage(services, scope))
        remaining.append((scope, float(view["remaining_usd"])))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Remaining(remaining))
    return generate_latest(registry)


class _Remaining(Collector):
    def __init__(self, remaining: Iterable[tuple[AccessScope, float]]) -> None:
        self._remaining = list(remaining)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "calcifer_budget_remaining_usd",
            "USD left in the current budget period of a key or team",
            labels=("key", "team"),
        )
        for scope, usd in self._remaining:
            key, team = (scope.id, "") if scope.kind is ScopeKind.KEY else ("", scope.id)
            family.add_metric((key, team), usd)
        yield family
