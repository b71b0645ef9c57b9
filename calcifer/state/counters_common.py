"""What every `Counters` implementation shares: which demands count, refusals as our errors,
and seeding a period's spend from the ledger once per scope and period."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from loguru import logger

from calcifer.domain.access import AccessScope, period_bounds
from calcifer.domain.limits import Refusal, nanos_ceil, period_code
from calcifer.domain.ports import Demand, SpendSeed
from calcifer.errors import AccessDenied, BudgetExceeded, KeyRateLimited, LimitsUnavailable

__all__ = ["SETTLE_RETRY_DELAYS", "SeedReader", "counted", "refusal_error", "retry_in_background"]

SETTLE_RETRY_DELAYS = (0.2, 1.0, 3.0)
"""Seconds between the tries of a settlement the shared counters did not take."""


def counted(demands: Sequence[Demand]) -> tuple[Demand, ...]:
    """The demands the counters must see: a scope with no budget and no limit costs nothing."""
    return tuple(demand for demand in demands if demand.scope.restricted)


def refusal_error(demand: Demand, refusal: Refusal, now: float) -> AccessDenied:
    """The error a refused demand raises, naming the key or team and what it ran out of."""
    scope = demand.scope
    who = f"{scope.kind} {scope.id}"
    if refusal.what == "budget":
        assert scope.budget is not None
        _, end = period_code(scope.budget.period, now)
        resets = None if end is None else datetime.fromtimestamp(end, UTC).isoformat().replace("+00:00", "Z")
        when = "it does not reset" if resets is None else f"it resets at {resets}"
        message = f"The {scope.budget.period} budget of {who} (${scope.budget.limit_usd}) is spent; {when}."
        return BudgetExceeded(message, scope=scope.counter_id, resets_at=resets)
    limits = scope.limits
    retry_after = max(round(refusal.retry_after, 3), 0.001)
    messages = {
        "rpm": f"{who} is limited to {limits.requests_per_minute} requests per minute",
        "tpm": f"{who} is limited to {limits.tokens_per_minute} tokens per minute",
        "tpm_request": (
            f"this request's estimated {demand.tokens} tokens exceed the limit of {who} "
            f"({limits.tokens_per_minute} tokens per minute); it can never be admitted as sent"
        ),
        "parallel": f"{who} is limited to {limits.max_parallel} requests at once",
    }
    return KeyRateLimited(messages[refusal.what] + ".", scope=scope.counter_id, retry_after=retry_after)


class SeedReader:
    """Reads a scope's spend for a period from the ledger, once even when many requests ask
    at the same moment (they share the one read)."""

    def __init__(self, seed: SpendSeed) -> None:
        self._seed = seed
        self._reading: dict[tuple[str, int], asyncio.Future[int]] = {}

    async def nanos(self, scope: AccessScope, code: int, now: float) -> int:
        """The ledger's spend for the scope's budget period `code` (containing `now`), in nano-dollars."""
        key = (scope.counter_id, code)
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(scope, now))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(reading)

    async def _read(self, scope: AccessScope, now: float) -> int:
        assert scope.budget is not None
        start, _ = period_bounds(scope.budget.period, datetime.fromtimestamp(now, UTC))
        try:
            spent: Decimal = await self._seed(scope, scope.budget.period, start)
        except Exception as exc:  # the ledger's own errors: whatever its store raises
            raise LimitsUnavailable(
                f"the spend of {scope.counter_id} cannot be read from the ledger"
            ) from exc
        return nanos_ceil(spent)


def retry_in_background(
    attempt: Callable[[], Awaitable[None]], what: str, tasks: set[asyncio.Task[None]]
) -> None:
    """Try `attempt` again a few times off the request path; then log it (the ledger still has
    the cost, so the next seed of the scope's spend counts it)."""

    async def retry() -> None:
        for delay in SETTLE_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                await attempt()
                return
            except LimitsUnavailable:
                continue
        logger.error(
            "counters: {} was not recorded after {} tries; its hold lapses with its lease",
            what,
            len(SETTLE_RETRY_DELAYS) + 1,
        )

    task = asyncio.get_running_loop().create_task(retry())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
