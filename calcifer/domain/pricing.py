"""Prices per million tokens and the cost of a request, in exact decimals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from calcifer.domain.usage import Usage

__all__ = ["PER_MILLION", "LongContextPrice", "Price", "format_usd"]

PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens for each usage bucket.

    A bucket without its own price falls back to the price that bills the same tokens
    when no cache or reasoning split exists: cached input and cache writes to input,
    reasoning to output. `long_context` is the price of a request whose prompt is
    longer than its threshold (Gemini Pro and Claude's 1M context bill every token of
    such a request at the higher rate).
    """

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    long_context: LongContextPrice | None = None

    def cost(self, usage: Usage) -> Decimal:
        """Σ bucket × price; exact, never rounded."""
        tier = self.long_context
        if tier is not None and usage.prompt_tokens > tier.above_prompt_tokens:
            return tier.price.cost(usage)
        total = (
            usage.input_tokens * self.input
            + usage.cache_read_tokens * _or(self.cached_input, self.input)
            + usage.cache_write_tokens * _or(self.cache_write, self.input)
            + usage.output_tokens * self.output
            + usage.reasoning_tokens * _or(self.reasoning, self.output)
        )
        return total / PER_MILLION

    def per_token(self, bucket: str) -> Decimal:
        """USD for a single token of `bucket` (OpenRouter's convention for listings)."""
        fallback = {"cached_input": self.input, "cache_write": self.input, "reasoning": self.output}
        value = getattr(self, bucket)
        return (value if value is not None else fallback[bucket]) / PER_MILLION


@dataclass(frozen=True, slots=True)
class LongContextPrice:
    above_prompt_tokens: int
    price: Price


def _or(value: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if value is None else value


def format_usd(amount: Decimal) -> str:
    """Plain decimal text (never exponent notation), trailing zeros dropped: `0.00126`."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"
