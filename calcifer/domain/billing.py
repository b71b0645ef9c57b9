"""How one request is priced: the model's list in force when it started, in the tier it asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.usage import Usage

__all__ = ["Pricer"]


@dataclass(frozen=True, slots=True)
class Pricer:
    price: Price
    """The price list in force at the request's start."""
    requested_tier: str | None = None
    """The `service_tier` the client asked for; the one the provider reports wins."""

    @classmethod
    def of(cls, model: ModelSpec, body: Mapping[str, Any], started: float) -> Pricer:
        """The pricing of a request with this (canonical) `body` that started at `started`
        (epoch seconds)."""
        tier = body.get("service_tier")
        price = model.price_at(datetime.fromtimestamp(started, UTC))
        return cls(price, tier if isinstance(tier, str) else None)

    def cost(self, usage: Usage) -> Decimal:
        return self.price.cost(usage, self.requested_tier)

    def tier(self, usage: Usage | None) -> str | None:
        """The tier that priced the request (None: the list price)."""
        return self.price.tier_named(usage or Usage(), self.requested_tier)
