"""One log line per API request, written after the answer has gone out."""

from __future__ import annotations

from loguru import logger

from calcifer.domain.pricing import format_usd
from calcifer.http.hooks.settle import price_version
from calcifer.http.scope import RequestScope
from calcifer.telemetry.request_log import RequestLog

__all__ = ["LogLine"]


class LogLine:
    def __init__(self, log: RequestLog) -> None:
        self._log = log
        self._warned_clamped: set[str] = set()
        """Providers already warned about for an impossible usage report (once each)."""

    def exit(self, scope: RequestScope) -> None:
        usage = scope.usage
        if usage is not None and usage.clamped:
            self._warn_clamped(scope.provider or "?")
        if not self._log.enabled(scope.log_level):
            return
        self._log.write(
            scope.log_level,
            {
                "request_id": scope.request_id,
                "route": scope.route,
                "key": scope.principal.key_id,
                "model": scope.model,
                "provider": scope.provider,
                "status": scope.status,
                "stream": scope.stream or None,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "cost": format_usd(scope.cost) if scope.cost is not None else None,
                "cost_estimated": True if usage is not None and usage.estimated else None,
                "usage_clamped": True if usage is not None and usage.clamped else None,
                "service_tier": scope.pricer.tier(usage) if scope.pricer is not None else None,
                "price_version": price_version(scope) if scope.pricer is not None else None,
                "latency_ms": round(scope.latency_ms(), 2),
                "overhead_ms": round(scope.overhead_ms(), 3),
                "error": scope.error,
                "metadata": scope.metadata,
                "catalog": scope.catalog.catalog_version if scope.catalog is not None else None,
            },
        )

    def _warn_clamped(self, provider: str) -> None:
        if provider in self._warned_clamped:
            return
        self._warned_clamped.add(provider)
        logger.warning(
            "provider '{}' reported impossible usage (a part larger than its total); it was cut down "
            "to the totals and flagged clamped (warned once per provider)",
            provider,
        )
