"""Cost is Σ bucket × price, exact to the last decimal, each bucket priced once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from calcifer.domain.pricing import LongContextPrice, Price, format_usd
from calcifer.domain.usage import Usage

GPT_4O = Price(input=Decimal("2.50"), cached_input=Decimal("1.25"), output=Decimal("10.00"))


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(input_tokens=2, output_tokens=2), "0.000025"),
        (Usage(input_tokens=600, cache_read_tokens=400, output_tokens=200), "0.0040"),
        (Usage(input_tokens=1, output_tokens=1, reasoning_tokens=3), "0.0000425"),
        (Usage(cache_write_tokens=1_000_000), "2.50"),
        (Usage(), "0"),
    ],
)
def test_cost_is_exact(usage: Usage, expected: str) -> None:
    assert GPT_4O.cost(usage) == Decimal(expected)


def test_unpriced_buckets_fall_back_to_the_price_that_bills_the_same_tokens() -> None:
    price = Price(input=Decimal(3), output=Decimal(15))
    usage = Usage(cache_read_tokens=1_000_000, cache_write_tokens=1_000_000, reasoning_tokens=1_000_000)
    assert price.cost(usage) == Decimal(3 + 3 + 15)


def test_one_hour_writes_without_their_own_price_bill_as_five_minute_writes() -> None:
    # a catalog written before the 1-hour split: every write billed at cache_write, as before
    price = Price(input=Decimal(3), output=Decimal(15), cache_write=Decimal("3.75"))
    assert price.cost(Usage(cache_write_1h_tokens=1_000_000)) == Decimal("3.75")


def test_a_million_small_requests_do_not_drift() -> None:
    one = GPT_4O.cost(Usage(input_tokens=7, output_tokens=3))
    assert sum((one for _ in range(1_000_000)), Decimal(0)) == one * 1_000_000 == Decimal("47.5")


@pytest.mark.parametrize(
    ("amount", "text"), [(Decimal("2E-4"), "0.0002"), (Decimal("0.00126000"), "0.00126"), (Decimal(0), "0")]
)
def test_usd_is_written_without_exponent_or_trailing_zeros(amount: Decimal, text: str) -> None:
    assert format_usd(amount) == text


def test_seed_example_prices_echo4_at_two_ten_thousandths() -> None:
    echo = Price(input=Decimal(50), output=Decimal(50))
    assert echo.cost(Usage(input_tokens=2, output_tokens=2)) == Decimal("0.0002")


def test_long_context_tier_bills_the_whole_request_at_the_higher_rate() -> None:
    tier = LongContextPrice(
        200_000, Price(input=Decimal("2.50"), output=Decimal("15.00"), cached_input=Decimal("0.25"))
    )
    pro = Price(input=Decimal("1.25"), output=Decimal(10), cached_input=Decimal("0.125"), long_context=tier)
    short = Usage(input_tokens=200_000, output_tokens=1000)
    long = Usage(input_tokens=150_000, cache_read_tokens=50_001, output_tokens=1000)
    assert pro.cost(short) == Decimal("0.26")  # 200k × 1.25 + 1k × 10, per million
    assert pro.cost(long) == Decimal("0.40250025")  # 150k × 2.50 + 50,001 × 0.25 + 1k × 15
