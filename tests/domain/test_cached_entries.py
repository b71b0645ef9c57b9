"""What the response cache keeps survives the trip through its bytes, whatever the usage held,
and a hit is billed at exactly the configured fraction of every bucket and fee."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from calcifer.domain.cached_answer import CachedAnswer
from calcifer.domain.chat import Completion
from calcifer.domain.pricing import LongContextPrice, Price, TierPrice
from calcifer.domain.usage import Usage, usage_document, usage_from_document

# every bucket, a per-call fee and a service tier: what issue 14 lets a provider report
RICH_USAGE = Usage(
    input_tokens=1200,
    cache_read_tokens=300,
    cache_write_tokens=40,
    cache_write_1h_tokens=60,
    output_tokens=500,
    reasoning_tokens=700,
    input_audio_tokens=11,
    output_audio_tokens=12,
    input_image_tokens=13,
    output_image_tokens=14,
    tool_calls=MappingProxyType({"web_search": 3}),
    service_tier="priority",
    estimated=True,
    clamped=True,
)

PRICE = Price(
    input=Decimal(3),
    output=Decimal(15),
    cached_input=Decimal("0.3"),
    cache_write=Decimal("3.75"),
    cache_write_1h=Decimal(6),
    per_request=Decimal("0.001"),
    tool_calls=MappingProxyType({"web_search": Decimal(10)}),
    service_tiers=MappingProxyType(
        {
            "priority": TierPrice(multiplier=Decimal("1.8")),
            "flex": TierPrice(price=Price(Decimal(1), Decimal(5))),
        }
    ),
    long_context=LongContextPrice(1000, Price(Decimal(6), Decimal("22.5"), per_request=Decimal("0.002"))),
)


def test_a_usage_document_round_trips_every_field() -> None:
    assert usage_from_document(usage_document(RICH_USAGE)) == RICH_USAGE
    assert usage_from_document(usage_document(Usage())) == Usage()


def test_a_cached_answer_keeps_a_usage_with_tool_calls_and_a_tier() -> None:
    completion = Completion({"id": "chatcmpl-1", "choices": []}, RICH_USAGE, "chatcmpl-1", "m", ("stop",))
    answer = CachedAnswer(completion, "m", "p", Decimal("0.125"), "req-1", 1.0)
    decoded = CachedAnswer.decode(answer.encode())
    assert decoded is not None
    assert decoded.completion.usage == RICH_USAGE
    assert decoded.cost == Decimal("0.125")


@pytest.mark.parametrize("tier", [None, "priority", "flex"])
@pytest.mark.parametrize("usage", [RICH_USAGE, Usage(input_tokens=10, output_tokens=5)])
def test_a_scaled_price_bills_every_bucket_and_fee_at_the_fraction(usage: Usage, tier: str | None) -> None:
    usage = Usage(**{**usage_document(usage), "service_tier": None}) if tier is None else usage
    full = PRICE.cost(usage, tier)
    assert full > 0
    assert PRICE.scaled(Decimal(0)).cost(usage, tier) == 0
    assert PRICE.scaled(Decimal("0.25")).cost(usage, tier) == full * Decimal("0.25")
    assert PRICE.scaled(Decimal(1)).cost(usage, tier) == full
