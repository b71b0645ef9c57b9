"""How long `Price.cost` takes for one usage report (docs/performance.md, "Pricing every bucket")."""

from __future__ import annotations

import timeit
from decimal import Decimal

from calcifer.domain.pricing import Price
from calcifer.domain.usage import Usage

CALLS = 200_000


def main() -> None:
    price = Price(input=Decimal("2.5"), cached_input=Decimal("1.25"), output=Decimal(10))
    usage = Usage(input_tokens=1000, cache_read_tokens=500, output_tokens=300, reasoning_tokens=100)
    seconds = timeit.timeit(lambda: price.cost(usage), number=CALLS)
    print(f"Price.cost: {seconds / CALLS * 1e6:.2f} µs per call")


if __name__ == "__main__":
    main()
