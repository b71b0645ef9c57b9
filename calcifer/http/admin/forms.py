"""Admin API bodies and query strings → domain values, strictly: an unknown field, a
negative budget, a zero limit or a bad date is a 400 naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from calcifer.domain.access import NO_LIMITS, Budget, BudgetPeriod, RateLimit
from calcifer.errors import InvalidRequest

__all__ = [
    "KEY_FIELDS",
    "TEAM_FIELDS",
    "budget_of",
    "cache_of",
    "check_fields",
    "limits_of",
    "metadata_of",
    "models_of",
    "name_of",
    "optional_text",
    "time_of",
]

KEY_FIELDS = {"name", "team_id", "user", "models", "budget", "limits", "expires_at", "metadata", "cache"}
TEAM_FIELDS = {"name", "budget", "limits", "metadata", "cache"}
_LIMIT_FIELDS = {"rpm": "requests_per_minute", "tpm": "tokens_per_minute", "max_parallel": "max_parallel"}
_LONGEST_TEXT = 200


def check_fields(body: Mapping[str, Any], known: set[str], where: str = "") -> None:
    for name in body:
        if name not in known:
            allowed = ", ".join(sorted(known))
            raise InvalidRequest(
                f"Unknown field '{where}{name}' (allowed: {allowed})", param=f"{where}{name}"
            )


def name_of(body: Mapping[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > _LONGEST_TEXT:
        raise InvalidRequest(
            f"'name' must be a non-empty string of at most {_LONGEST_TEXT} characters", param="name"
        )
    return name.strip()


def optional_text(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _LONGEST_TEXT:
        raise InvalidRequest(f"'{field}' must be a non-empty string or null", param=field)
    return value.strip()


def budget_of(value: object) -> Budget | None:
    """`{"max_usd": "10.00", "period": "total"|"day"|"month"}`, or null for none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("'budget' must be an object with max_usd and period", param="budget")
    check_fields(value, {"max_usd", "period"}, "budget.")
    raw = value.get("max_usd")
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise InvalidOperation
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidRequest("'budget.max_usd' must be a decimal amount", param="budget.max_usd") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidRequest("'budget.max_usd' must be zero or more", param="budget.max_usd")
    period = value.get("period", "total")
    if period not in {p.value for p in BudgetPeriod}:
        raise InvalidRequest("'budget.period' must be total, day or month", param="budget.period")
    return Budget(amount, BudgetPeriod(period))


def limits_of(value: object) -> RateLimit:
    """`{"rpm"?, "tpm"?, "max_parallel"?}`, each a positive integer or null."""
    if value is None:
        return NO_LIMITS
    if not isinstance(value, dict):
        raise InvalidRequest("'limits' must be an object with rpm, tpm and/or max_parallel", param="limits")
    check_fields(value, set(_LIMIT_FIELDS), "limits.")
    chosen: dict[str, int | None] = {}
    for name, attribute in _LIMIT_FIELDS.items():
        limit = value.get(name)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidRequest(
                f"'limits.{name}' must be a positive integer or null", param=f"limits.{name}"
            )
        chosen[attribute] = limit
    return RateLimit(**chosen)


def cache_of(value: object) -> bool:
    """`false` forbids the response cache to a key or team; `true` lets the model's policy apply."""
    if not isinstance(value, bool):
        raise InvalidRequest("'cache' must be true or false", param="cache")
    return value


def models_of(value: object, known: set[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise InvalidRequest("'models' must be a list of model names", param="models")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise InvalidRequest(f"'models' names unknown models: {', '.join(unknown)}", param="models")
    return tuple(dict.fromkeys(value))


def metadata_of(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 32:
        raise InvalidRequest("'metadata' must be an object of at most 32 entries", param="metadata")
    if not all(isinstance(v, str) and len(v) <= _LONGEST_TEXT for v in value.values()):
        raise InvalidRequest(
            f"'metadata' values must be strings of at most {_LONGEST_TEXT} characters", param="metadata"
        )
    return {str(k): str(v) for k, v in value.items()}


def time_of(value: object, field: str) -> datetime | None:
    """An ISO 8601 date or time; a time without an offset is UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{field}' must be an ISO 8601 date or time", param=field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"'{field}' must be an ISO 8601 date or time, not '{value[:40]}'", param=field
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
