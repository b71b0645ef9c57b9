"""Request metrics: one sample per finished API request, from the settled scope.

Entering counts the request in flight; leaving records its route, model, provider, status,
durations, tokens and cost (`calcifer.telemetry.metrics`). A few µs per request.
"""

from __future__ import annotations

from sanic import Request

from calcifer.http.scope import RequestScope
from calcifer.telemetry.genai_metrics import GenAiMetrics
from calcifer.telemetry.metrics import GatewayMetrics, RequestSample

__all__ = ["Metrics", "route_name"]

_ROUTE_NAMES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/messages": "messages",
    "/v1/messages/count_tokens": "count_tokens",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
    "/v1/models": "models",
}
_REFUSALS = {"key_rate_limited": "rate_limited", "budget_exceeded": "budget_exceeded"}


def route_name(route: str) -> str:
    """A short, bounded name for a route: its dialect for API routes, else its path pattern."""
    return _ROUTE_NAMES.get(route, route)


class Metrics:
    def __init__(self, prometheus: GatewayMetrics | None, genai: GenAiMetrics | None = None) -> None:
        self._prometheus = prometheus
        self._genai = genai

    async def enter(self, request: Request, scope: RequestScope) -> None:
        if self._prometheus is not None:
            self._prometheus.inflight.inc()
            scope.counted_in_flight = True

    def exit(self, scope: RequestScope) -> None:
        if scope.counted_in_flight and self._prometheus is not None:  # not when refused before this step
            self._prometheus.inflight.dec()
        refused_by = _REFUSALS.get(scope.error or "")
        refused_scope = scope.refused_scope.partition(":")[0] if scope.refused_scope else None
        first_token = scope.first_byte_seconds if scope.stream else None
        sample = RequestSample(
            route=route_name(scope.route),
            model=scope.model or "",
            provider=scope.provider or "",
            status=scope.status,
            duration_seconds=scope.latency_ms() / 1000,
            overhead_seconds=scope.overhead_ms() / 1000,
            first_token_seconds=first_token,
            usage=scope.usage,
            cost=scope.cost,
            retried_attempts=max(0, scope.attempts - 1),
            refused_by=refused_by,
            refused_scope=refused_scope,
            key_id=scope.principal.key_id,
            cache_result=scope.cache_result,
        )
        if self._prometheus is not None:
            self._prometheus.record(sample)
        if self._genai is not None:
            self._genai.record(sample)
