"""How a model is cached: the gateway's `cache:` section, and a catalog model's override of it."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

__all__ = ["CacheOverride", "CachePolicy", "CacheScope"]


class CacheScope(StrEnum):
    """Who may be answered from an entry."""

    KEY = "key"
    """Only requests made with the same virtual key (the default)."""
    TEAM = "team"
    """Any key of the same team (a key without a team: that key alone)."""
    GLOBAL = "global"
    """Every client of the gateway."""


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How one model is cached: the gateway's `cache:` section, overridden per model."""

    enabled: bool = False
    ttl_seconds: float = 300.0
    scope: CacheScope = CacheScope.KEY
    sampled: bool = False
    """Cache answers sampled with `temperature > 0` (or left at the provider's default, which
    is above 0 in every dialect); off by default, since the client asked for variety."""
    multiple_choices: bool = False
    """Cache answers with `n > 1`."""


@dataclass(frozen=True, slots=True)
class CacheOverride:
    """A catalog model's `cache:` section: each field it gives replaces the gateway's."""

    enabled: bool | None = None
    ttl_seconds: float | None = None
    scope: CacheScope | None = None
    sampled: bool | None = None
    multiple_choices: bool | None = None

    def applied_to(self, policy: CachePolicy) -> CachePolicy:
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(policy, **given)
