"""One log line per API request, written after the answer has gone out."""

from __future__ import annotations

from calcifer.domain.pricing import format_usd
from calcifer.http.scope import RequestScope
from calcifer.telemetry.request_log import RequestLog

__all__ = ["LogLine"]


class LogLine:
    def __init__(self, log: RequestLog) -> None:
        self._log = log

    def exit(self, scope: RequestScope) -> None:
        if not self._log.enabled(scope.log_level):
            return
        usage = scope.usage
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
                "latency_ms": round(scope.latency_ms(), 2),
                "overhead_ms": round(scope.overhead_ms(), 3),
                "error": scope.error,
                "metadata": scope.metadata,
                "catalog": scope.catalog.catalog_version if scope.catalog is not None else None,
            },
        )
