"""A model's `pricing` entry → its price list, or its dated price lists (validated by the schema)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from calcifer.domain.price_schedule import PriceSchedule
from calcifer.domain.pricing import TOKEN_BUCKETS, LongContextPrice, Price, TierPrice

__all__ = ["build_pricing", "schedule_problems"]

_FEES = ("per_request", "tool_calls")


def build_pricing(pricing: Any) -> tuple[Price, PriceSchedule | None]:
    """The list in force today and, for dated lists, the whole schedule."""
    if isinstance(pricing, Mapping):
        return _price(pricing), None
    schedule = PriceSchedule(tuple(_price(entry) for entry in pricing))
    return schedule.current(), schedule


def schedule_problems(pricing: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """What the schema cannot say of a model's prices: dated lists out of order or undated after
    the first, a tier both multiplied and priced. Yields (path under `pricing`, message)."""
    dated = not isinstance(pricing, Mapping)
    for index, entry in enumerate(pricing if dated else [pricing]):
        for tier, prices in (entry.get("service_tiers") or {}).items():
            if "multiplier" in prices and len(prices) > 1:
                where = (index,) if dated else ()
                yield (
                    (*where, "service_tiers", tier),
                    "a tier is a multiplier of the list or has prices of its own, not both",
                )
    if not dated:
        return
    previous: str | None = None
    for index, entry in enumerate(pricing):
        day = entry.get("effective_from")
        if day is None and index > 0:
            yield (index,), "every price list but the first needs an effective_from date"
            continue
        if day is not None:
            try:
                date.fromisoformat(str(day))
            except ValueError:
                yield (index, "effective_from"), f"'{day}' is not a date"
                continue
            if previous is not None and str(day) <= previous:
                yield (index, "effective_from"), f"must come after the previous list's {previous}"
            previous = str(day)


def _price(raw: Mapping[str, Any], base: Price | None = None) -> Price:
    """A list from `raw`; missing fees (and, for a tier, missing buckets) from `base`."""
    day = raw.get("effective_from")
    inherited = base or Price(Decimal(0), Decimal(0))
    price = Price(
        input=_bucket(raw, "input", inherited.input),
        output=_bucket(raw, "output", inherited.output),  # an embedding model has none
        **_optional_buckets(raw, base),
        per_request=_bucket(raw, "per_request", inherited.per_request),
        tool_calls=_tool_fees(raw, inherited),
        effective_from=date.fromisoformat(str(day)) if day is not None else None,
    )
    extras: dict[str, Any] = {}
    if (tier := raw.get("long_context")) is not None:
        long_price = _price(
            tier, Price(Decimal(0), Decimal(0), per_request=price.per_request, tool_calls=price.tool_calls)
        )
        extras["long_context"] = LongContextPrice(int(tier["above_prompt_tokens"]), long_price)
    if (tiers := raw.get("service_tiers")) is not None:
        extras["service_tiers"] = MappingProxyType(
            {name: _tier(entry, price) for name, entry in tiers.items()}
        )
    return Price(**{**_fields(price), **extras}) if extras else price


def _tier(raw: Mapping[str, Any], price: Price) -> TierPrice:
    if "multiplier" in raw:
        return TierPrice(multiplier=Decimal(str(raw["multiplier"])))
    # its own prices: every bucket it leaves out is the list's (its long context too)
    own = _price(raw, price)
    return TierPrice(price=Price(**{**_fields(own), "long_context": price.long_context}))


def _fields(price: Price) -> dict[str, Any]:
    return {field.name: getattr(price, field.name) for field in fields(price) if field.init}


def _bucket(raw: Mapping[str, Any], name: str, default: Decimal) -> Decimal:
    value = raw.get(name)
    return default if value is None else Decimal(str(value))


def _optional_buckets(raw: Mapping[str, Any], base: Price | None) -> dict[str, Any]:
    return {name: _optional(raw, name, base) for name in TOKEN_BUCKETS if name not in ("input", "output")}


def _optional(raw: Mapping[str, Any], name: str, base: Price | None) -> Decimal | None:
    value = raw.get(name)
    if value is not None:
        return Decimal(str(value))
    return None if base is None else getattr(base, name)


def _tool_fees(raw: Mapping[str, Any], base: Price) -> Mapping[str, Decimal]:
    fees = dict(base.tool_calls)
    fees.update((tool, Decimal(str(usd))) for tool, usd in (raw.get("tool_calls") or {}).items())
    return MappingProxyType(fees)
