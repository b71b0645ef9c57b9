"""How the admin API shows budgets, limits and their current use, times, and reads JSON bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sanic import Request

from calcifer.domain.access import AccessScope, Budget, RateLimit, period_bounds
from calcifer.domain.ports import ScopeUsage
from calcifer.errors import LimitsUnavailable
from calcifer.http.admin.services import AccessServices
from calcifer.http.jsonio import loads_object, require_json

__all__ = [
    "budget_summary",
    "budget_view",
    "iso",
    "json_body",
    "limits_view",
    "scope_usage",
    "usage_view",
]


async def scope_usage(services: AccessServices, scope: AccessScope) -> ScopeUsage | None:
    """What the counters know of the scope now; None when nothing counts it (keys not
    required, or a key or team with no budget and no limit) or the counters cannot be reached
    (the admin API keeps working while Redis is down; health shows that)."""
    if services.counters is None or not scope.restricted:
        return None
    try:
        return await services.counters.usage(scope)
    except LimitsUnavailable as exc:
        logger.warning("admin: the usage of {} is not shown: {}", scope.counter_id, exc)
        return None


async def budget_view(
    services: AccessServices, scope: AccessScope, budget: Budget, now: datetime, usage: ScopeUsage | None
) -> dict[str, Any]:
    """The budget with its current period's figures: what is spent, what requests in flight
    hold, and when it resets."""
    start, end = period_bounds(budget.period, now)
    spent = await services.ledger_store.spent(scope, start)
    if usage is not None:
        spent = max(spent, usage.spent_usd)  # records still on their way to the ledger
    return {
        **budget_summary(budget),
        "spend_usd": spent,
        "reserved_usd": usage.reserved_usd if usage is not None else None,
        "remaining_usd": max(budget.limit_usd - spent, 0),
        "period_start": iso(start),
        "resets_at": iso(end),
    }


def usage_view(usage: ScopeUsage | None) -> dict[str, int] | None:
    """The limits' current use (compare with `limits`)."""
    if usage is None:
        return None
    return {
        "requests_last_minute": usage.requests_last_minute,
        "tokens_last_minute": usage.tokens_last_minute,
        "in_flight": usage.in_flight,
    }


def budget_summary(budget: Budget) -> dict[str, Any]:
    return {"max_usd": budget.limit_usd, "period": budget.period.value}


def limits_view(limits: RateLimit) -> dict[str, int | None]:
    return {
        "rpm": limits.requests_per_minute,
        "tpm": limits.tokens_per_minute,
        "max_parallel": limits.max_parallel,
    }


def json_body(request: Request) -> dict[str, Any]:
    require_json(request.headers.get("content-type"))
    return loads_object(request.body)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
