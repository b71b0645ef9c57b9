"""How the admin API shows budgets, limits and times, and reads JSON bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanic import Request

from calcifer.domain.access import AccessScope, Budget, RateLimit, period_bounds
from calcifer.http.admin.services import AccessServices
from calcifer.http.jsonio import loads_object, require_json

__all__ = ["budget_summary", "budget_view", "iso", "json_body", "limits_view"]


async def budget_view(
    services: AccessServices, scope: AccessScope, budget: Budget, now: datetime
) -> dict[str, Any]:
    """The budget with its current period's figures: what is spent, and when it resets."""
    start, end = period_bounds(budget.period, now)
    spent = await services.ledger_store.spent(scope, start)
    if services.counters is not None:
        spent = max(spent, await services.counters.spent(scope))  # records still on their way
    return {
        **budget_summary(budget),
        "spend_usd": spent,
        "remaining_usd": max(budget.limit_usd - spent, 0),
        "period_start": iso(start),
        "resets_at": iso(end),
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
