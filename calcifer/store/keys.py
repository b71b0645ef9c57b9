"""Keys and teams as rows: the statements that store them, and the conversions both ways."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from calcifer.domain.access import NO_LIMITS, Budget, BudgetPeriod, RateLimit, Team, VirtualKey
from calcifer.store.database import Codec, Statement

__all__ = [
    "KEY_COLUMNS",
    "TEAM_COLUMNS",
    "bump_revision",
    "key_from_row",
    "save_key_statement",
    "save_team_statement",
    "team_from_row",
]

KEY_COLUMNS = (
    "id, key_hash, prefix, name, team_id, user_name, budget_usd, budget_period, rpm, tpm, "
    "max_parallel, models, metadata, created_at, expires_at, revoked_at, cache_allowed"
)
TEAM_COLUMNS = (
    "id, name, budget_usd, budget_period, rpm, tpm, max_parallel, metadata, created_at, cache_allowed"
)

_CURRENT_REVISION = "(SELECT revision FROM store_revision WHERE id = 1)"


def bump_revision() -> Statement:
    """Raises the store-wide revision; the row it locks also orders concurrent changes, so a
    change's revision is never lower than one committed before it."""
    return Statement("UPDATE store_revision SET revision = revision + 1 WHERE id = 1")


def _upsert(table: str, columns: str) -> str:
    names = [name.strip() for name in columns.split(",")]
    placeholders = ", ".join("?" for _ in names)
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (
        f"INSERT INTO {table} ({columns}, revision) VALUES ({placeholders}, {_CURRENT_REVISION}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}, revision = excluded.revision"
    )


_SAVE_KEY = _upsert("keys", KEY_COLUMNS)
_SAVE_TEAM = _upsert("teams", TEAM_COLUMNS)


def save_key_statement(key: VirtualKey, codec: Codec) -> Statement:
    budget, period = _budget_in(key.budget, codec)
    params = (
        key.id, key.key_hash, key.prefix, key.name, key.team_id, key.user, budget, period,
        *_limits_in(key.limits), json.dumps(list(key.models)), json.dumps(key.metadata),
        codec.time_in(key.created_at), codec.time_in(key.expires_at), codec.time_in(key.revoked_at),
        codec.flag_in(key.cache),
    )  # fmt: skip
    return Statement(_SAVE_KEY, params)


def save_team_statement(team: Team, codec: Codec) -> Statement:
    budget, period = _budget_in(team.budget, codec)
    params = (
        team.id, team.name, budget, period, *_limits_in(team.limits), json.dumps(team.metadata),
        codec.time_in(team.created_at), codec.flag_in(team.cache),
    )  # fmt: skip
    return Statement(_SAVE_TEAM, params)


def key_from_row(row: Sequence[Any], codec: Codec) -> VirtualKey:
    (key_id, key_hash, prefix, name, team_id, user, budget, period, rpm, tpm, parallel,
     models, metadata, created, expires, revoked, cache) = row  # fmt: skip
    return VirtualKey(
        id=key_id,
        key_hash=key_hash,
        prefix=prefix,
        name=name,
        team_id=team_id,
        user=user,
        budget=_budget_out(budget, period, codec),
        limits=_limits_out(rpm, tpm, parallel),
        models=tuple(json.loads(models)),
        metadata=json.loads(metadata),
        created_at=codec.time_out(created),
        expires_at=codec.time_out(expires),
        revoked_at=codec.time_out(revoked),
        cache=bool(cache),
    )


def team_from_row(row: Sequence[Any], codec: Codec) -> Team:
    team_id, name, budget, period, rpm, tpm, parallel, metadata, created, cache = row
    return Team(
        id=team_id,
        name=name,
        budget=_budget_out(budget, period, codec),
        limits=_limits_out(rpm, tpm, parallel),
        metadata=json.loads(metadata),
        created_at=codec.time_out(created),
        cache=bool(cache),
    )


def _budget_in(budget: Budget | None, codec: Codec) -> tuple[Any, str | None]:
    if budget is None:
        return None, None
    return codec.money_in(budget.limit_usd), budget.period.value


def _budget_out(limit: Any, period: str | None, codec: Codec) -> Budget | None:
    amount = codec.money_out(limit)
    if amount is None:
        return None
    return Budget(amount, BudgetPeriod(period or BudgetPeriod.TOTAL))


def _limits_in(limits: RateLimit) -> tuple[int | None, int | None, int | None]:
    return limits.requests_per_minute, limits.tokens_per_minute, limits.max_parallel


def _limits_out(rpm: int | None, tpm: int | None, parallel: int | None) -> RateLimit:
    if rpm is None and tpm is None and parallel is None:
        return NO_LIMITS
    return RateLimit(rpm, tpm, parallel)
