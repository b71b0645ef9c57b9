"""Prices per million tokens and the cost of a request, in exact decimals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from calcifer.domain.usage import Usage

__all__ = [
    "PER_MILLION",
    "PER_THOUSAND",
    "TOKEN_BUCKETS",
    "LongContextPrice",
    "Price",
    "TierPrice",
    "format_usd",
]

PER_MILLION = Decimal(1_000_000)
PER_THOUSAND = Decimal(1_000)

TOKEN_BUCKETS: Mapping[str, str] = MappingProxyType(
    {  # price bucket → the Usage field it prices
        "input": "input_tokens",
        "cached_input": "cache_read_tokens",
        "cache_write": "cache_write_tokens",
        "cache_write_1h": "cache_write_1h_tokens",
        "output": "output_tokens",
        "reasoning": "reasoning_tokens",
        "input_audio": "input_audio_tokens",
        "output_audio": "output_audio_tokens",
        "input_image": "input_image_tokens",
        "output_image": "output_image_tokens",
    }
)
_FALLBACK = MappingProxyType(
    {  # a bucket without its own price bills as the tokens would without the split
        "cached_input": "input",
        "cache_write": "input",
        "cache_write_1h": "cache_write",  # the split unknown, a write bills as any write
        "input_audio": "input",
        "input_image": "input",
        "reasoning": "output",
        "output_audio": "output",
        "output_image": "output",
    }
)
_NO_FEES: Mapping[str, Decimal] = MappingProxyType({})
_NO_TIERS: Mapping[str, TierPrice] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Price:
    """One price list: USD per 1M tokens for each usage bucket, plus per-request and per-call fees.

    A bucket without its own price falls back to the price that bills the same tokens
    when no split exists: cached input, cache writes and audio/image input to input;
    reasoning and audio/image output to output. `long_context` is the list of a request
    whose prompt is longer than its threshold (Gemini Pro and Claude's 1M context bill
    every token of such a request at the higher rate). `service_tiers` are chosen by the
    tier that served the request (priority, flex, batch...).
    """

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    long_context: LongContextPrice | None = None
    cache_write_1h: Decimal | None = None
    input_audio: Decimal | None = None
    output_audio: Decimal | None = None
    input_image: Decimal | None = None
    output_image: Decimal | None = None
    per_request: Decimal = Decimal(0)
    """USD for each request, whatever its tokens."""
    tool_calls: Mapping[str, Decimal] = field(default_factory=lambda: _NO_FEES, hash=False)
    """USD per 1,000 calls of each server-side tool, by tool name."""
    service_tiers: Mapping[str, TierPrice] = field(default_factory=lambda: _NO_TIERS, hash=False)
    effective_from: date | None = None
    """The day (UTC) from which this list is in force; None for a model's first or only list."""
    _rates: tuple[tuple[str, Decimal], ...] = field(init=False, repr=False, compare=False, hash=False)
    """(Usage field, USD per 1M) of every bucket, fallbacks applied: computed once, as `cost`
    runs for every request."""

    def __post_init__(self) -> None:
        rates = tuple((count, self.bucket(name)) for name, count in TOKEN_BUCKETS.items())
        object.__setattr__(self, "_rates", rates)

    def cost(self, usage: Usage, service_tier: str | None = None) -> Decimal:
        """Σ bucket × price + fees, in the tier that served the request; exact, never rounded.

        The tier the provider reported (`usage.service_tier`) wins over the one asked for."""
        tier = self.service_tiers.get(usage.service_tier or service_tier or "")
        if tier is None:
            return self._list_cost(usage)
        if tier.price is not None:
            return tier.price._list_cost(usage)
        return self._list_cost(usage) * tier.multiplier

    def tier_named(self, usage: Usage, service_tier: str | None) -> str | None:
        """The priced tier of a request: the one reported or asked for, when it has prices."""
        name = usage.service_tier or service_tier
        return name if name in self.service_tiers else None

    def per_token(self, bucket: str) -> Decimal:
        """USD for a single token of `bucket` (OpenRouter's convention for listings)."""
        return self.bucket(bucket) / PER_MILLION

    def bucket(self, name: str) -> Decimal:
        """USD per 1M tokens of bucket `name`, its fallback applied."""
        value: Decimal | None = getattr(self, name)
        while value is None:
            name = _FALLBACK[name]
            value = getattr(self, name)
        return value

    def scaled(self, fraction: Decimal) -> Price:
        """This list with every bucket, fee and tier list times `fraction` (a response-cache hit
        is billed at a fraction of the answer it replays)."""

        def times(value: Decimal | None) -> Decimal | None:
            return None if value is None else value * fraction

        buckets: dict[str, Any] = {name: times(getattr(self, name)) for name in TOKEN_BUCKETS}
        long_context = self.long_context
        if long_context is not None:
            long_context = LongContextPrice(
                long_context.above_prompt_tokens, long_context.price.scaled(fraction)
            )
        tiers = {
            name: tier if tier.price is None else TierPrice(tier.multiplier, tier.price.scaled(fraction))
            for name, tier in self.service_tiers.items()
        }
        return replace(
            self,
            **buckets,
            long_context=long_context,
            per_request=self.per_request * fraction,
            tool_calls=MappingProxyType({tool: fee * fraction for tool, fee in self.tool_calls.items()}),
            service_tiers=MappingProxyType(tiers),
        )

    def _list_cost(self, usage: Usage) -> Decimal:
        tier = self.long_context
        if tier is not None and usage.prompt_tokens > tier.above_prompt_tokens:
            return tier.price._list_cost(usage)
        total = Decimal(0)
        for count, rate in self._rates:
            tokens = getattr(usage, count)
            if tokens:
                total += tokens * rate
        total /= PER_MILLION
        if usage.tool_calls:
            fees = self.tool_calls
            total += (
                sum((n * fees.get(tool, Decimal(0)) for tool, n in usage.tool_calls.items()), Decimal(0))
                / PER_THOUSAND
            )
        return total + self.per_request if self.per_request else total


@dataclass(frozen=True, slots=True)
class LongContextPrice:
    above_prompt_tokens: int
    price: Price


@dataclass(frozen=True, slots=True)
class TierPrice:
    """A service tier: the whole list times `multiplier`, or a list of its own (`price`)."""

    multiplier: Decimal = Decimal(1)
    price: Price | None = None


def format_usd(amount: Decimal) -> str:
    """Plain decimal text (never exponent notation), trailing zeros dropped: `0.00126`."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"
