"""The request's answer is complete: fix its times, settle what admission reserved with the
exact cost, and hand its record to the ledger — on every exit path (answered, refused,
failed, client gone, cancelled).

Settling may take a round trip (Redis), so it runs as a task of its own: the answer is not
held up by it. Until it has run, the request's hold still counts against its budgets, which
errs on the safe side. At a stop, `drain` waits for the settlements still running.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

from loguru import logger

from calcifer.domain.admission import Admission
from calcifer.domain.dialect import Dialect
from calcifer.domain.ports import Hold, LedgerRecord, LedgerSink
from calcifer.domain.price_schedule import PriceSchedule
from calcifer.domain.usage import Usage
from calcifer.http.scope import RequestScope

__all__ = ["Settle", "ledger_record"]

_ROUTE_NAMES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": Dialect.EMBEDDINGS.value,
    "/v1/responses": "responses",
    "/v1/messages": Dialect.ANTHROPIC_MESSAGES.value,
}


class Settle:
    def __init__(self, admission: Admission, ledger: LedgerSink | None) -> None:
        self._admission = admission
        self._ledger = ledger
        self._running: set[asyncio.Task[None]] = set()

    def exit(self, scope: RequestScope) -> None:
        scope.finished = time.perf_counter()
        if scope.hold is not None:
            tokens = scope.usage.total_tokens if scope.usage is not None else 0
            task = asyncio.get_running_loop().create_task(
                self._settle(scope.hold, (scope.cost or Decimal(0)) + scope.unbilled_spend, tokens)
            )
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if scope.requested_model is not None and self._ledger is not None:
            self._ledger.record(ledger_record(scope))

    async def drain(self) -> None:
        """Wait for the settlements still running (a stopping worker)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def _settle(self, hold: Hold, cost: Decimal, tokens: int) -> None:
        try:
            await self._admission.settle(hold, cost, tokens)
        except Exception:  # noqa: BLE001 - the ledger still has the cost; the hold lapses by its lease
            logger.opt(exception=True).bind(request_id=hold.request_id).error(
                "settling the request's hold failed"
            )


def price_version(scope: RequestScope) -> str:
    """The catalog version, and the day the model's price list took effect when it has dated lists."""
    version = scope.catalog.catalog_version if scope.catalog is not None else ""
    return version if scope.pricer is None else PriceSchedule.version(version, scope.pricer.price)


def _token_columns(usage: Usage) -> dict[str, int]:
    """The ledger's five token columns: audio and image tokens count with their side's text
    tokens, 1-hour cache writes with the others (the cost is exact; these are for reports)."""
    return {
        "input_tokens": usage.input_tokens + usage.input_audio_tokens + usage.input_image_tokens,
        "cached_input_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens + usage.cache_write_1h_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "output_tokens": usage.output_tokens + usage.output_audio_tokens + usage.output_image_tokens,
    }


def ledger_record(scope: RequestScope) -> LedgerRecord:
    usage = scope.usage
    principal = scope.principal
    return LedgerRecord(
        request_id=scope.request_id,
        started_at=datetime.fromtimestamp(scope.started_at, UTC),
        route=_ROUTE_NAMES.get(scope.route, scope.route),
        status=scope.status,
        key_id=principal.key_id,
        team_id=principal.team_id,
        user=scope.end_user or principal.user,
        requested_model=scope.requested_model,
        served_model=scope.model,
        provider=scope.provider,
        attempts=scope.attempts,
        error_code=scope.error,
        stream=scope.stream,
        **_token_columns(usage or Usage()),
        cost_usd=scope.cost if scope.cost is not None else Decimal(0),
        cost_estimated=bool(usage and usage.estimated),
        price_version=price_version(scope),
        service_tier=scope.pricer.tier(usage) if scope.pricer is not None else None,
        latency_ms=round(scope.latency_ms(), 3),
        ttft_ms=None if scope.first_byte_seconds is None else round(scope.first_byte_seconds * 1000, 3),
        overhead_ms=round(scope.overhead_ms(), 3),
        cache_hit=scope.cache_hit,
        saved_usd=scope.saved_usd,
        cache_result=scope.cache_result,
    )
