"""One log line per API request, written after the answer has gone out."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from loguru import logger

from calcifer.http.scope import RequestScope

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["LogLine"]


class LogLine:
    def exit(self, scope: RequestScope) -> None:
        usage = scope.usage
        line = logger.bind(
            request_id=scope.request_id,
            route=scope.route,
            model=scope.model,
            provider=scope.provider,
            status=scope.status,
            stream=scope.stream or None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            cost=str(scope.cost) if scope.cost is not None else None,
            latency_ms=round(scope.latency_ms(), 2),
            overhead_ms=round(scope.overhead_ms(), 3),
            error=scope.error,
            metadata=scope.metadata,
            catalog=scope.catalog.catalog_version if scope.catalog is not None else None,
        )
        # Written once the response has gone out (the task yields after writing it), so the
        # client does not wait for the log line.
        asyncio.get_running_loop().call_soon(_write, line, scope.log_level)


def _write(line: Logger, level: str) -> None:
    line.log(level, "request")  # called here, so the line names this module as its logger
