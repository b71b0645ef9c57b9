"""Who is calling and what they may spend: virtual keys, teams, budgets and rate limits.

A `Principal` is resolved once per request (the pipeline's authenticate step) from the
caller's virtual key and its team. It carries the `AccessScope`s that apply to the request,
key first, then team: each with its own budget and limits, all of which must admit it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "ANONYMOUS",
    "NO_LIMITS",
    "AccessScope",
    "Budget",
    "BudgetPeriod",
    "Principal",
    "RateLimit",
    "ScopeKind",
    "Team",
    "VirtualKey",
    "period_bounds",
]


class BudgetPeriod(StrEnum):
    """How long a budget's spend accumulates before it starts again at zero (UTC calendar)."""

    TOTAL = "total"
    DAY = "day"
    MONTH = "month"


def period_bounds(period: BudgetPeriod, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The UTC start and end of the period containing `now` (None: unbounded)."""
    now = now.astimezone(UTC)
    if period is BudgetPeriod.DAY:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, datetime.fromtimestamp(start.timestamp() + 86_400, UTC)
    if period is BudgetPeriod.MONTH:
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        days = calendar.monthrange(start.year, start.month)[1]
        return start, datetime.fromtimestamp(start.timestamp() + days * 86_400, UTC)
    return None, None


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `limit_usd` spent per `period`."""

    limit_usd: Decimal
    period: BudgetPeriod = BudgetPeriod.TOTAL


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Limits over any 60-second window, and on requests in flight at once; None: no limit."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_parallel: int | None = None

    @property
    def any(self) -> bool:
        limits = (self.requests_per_minute, self.tokens_per_minute, self.max_parallel)
        return any(limit is not None for limit in limits)


NO_LIMITS = RateLimit()


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    budget: Budget | None = None
    limits: RateLimit = NO_LIMITS
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    cache: bool = True
    """False: the response cache never sees its keys' requests (see `Principal.may_cache`)."""


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A key as stored: never the key itself, only its keyed hash and a short prefix."""

    id: str
    """Stable id (`key_…`) for logs, records and the admin API; never a secret."""
    key_hash: str = field(repr=False)
    """HMAC-SHA256 of the key under the gateway's key-hashing secret, hex."""
    prefix: str
    """The first characters of the key (`ck-AbCd…`), enough to recognise it, never to use it."""
    name: str = ""
    team_id: str | None = None
    user: str | None = None
    """Who the key was issued to (an email, a service name); recorded on each request."""
    budget: Budget | None = None
    limits: RateLimit = NO_LIMITS
    models: tuple[str, ...] = ()
    """Model names or aliases the key may call; empty: every model."""
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    cache: bool = True
    """False: its requests are never answered from the response cache nor kept in it."""

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class ScopeKind(StrEnum):
    KEY = "key"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class AccessScope:
    """One budget-and-limits holder a request counts against (a key, or its team)."""

    kind: ScopeKind
    id: str
    budget: Budget | None
    limits: RateLimit

    @property
    def counter_id(self) -> str:
        """The name the shared counters know this scope by (`key:key_ab12…`)."""
        return f"{self.kind}:{self.id}"

    @property
    def restricted(self) -> bool:
        return self.budget is not None or self.limits.any


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request is served and accounted for."""

    id: str
    """Stable id for logs and records (the key's id); never a secret."""
    anonymous: bool = False
    key_id: str | None = None
    key_prefix: str | None = None
    team_id: str | None = None
    user: str | None = None
    scopes: tuple[AccessScope, ...] = ()
    """Key first, then team; only those with a budget or a limit."""
    models: tuple[str, ...] = ()
    """Model names or aliases the key may call; empty: every model."""
    may_cache: bool = True
    """False when the key or its team forbids the response cache (a zero-data-retention
    tenant): its requests are neither looked up nor stored, whatever the cache's scope."""

    def may_call(self, model_names: tuple[str, ...]) -> bool:
        """Whether any of a model's names (its name and aliases) is allowed to this caller."""
        return not self.models or any(name in self.models for name in model_names)


ANONYMOUS = Principal(id="anonymous", anonymous=True)
"""The caller when the gateway runs open (no master key configured: see docs/access.md)."""
