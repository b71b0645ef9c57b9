"""Stream timeouts: an idle provider is cut off; a slow client never counts against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from calcifer.domain.chat import Chunk
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.priced_stream import PricedStream, StreamLimits
from calcifer.domain.pricing import Price
from calcifer.errors import UpstreamTimeout

MODEL = ModelSpec("m", "p", "m", Price(Decimal(1), Decimal(1)))


def chunk(text: str) -> Chunk:
    return Chunk({"choices": [{"index": 0, "delta": {"content": text}}]})


async def upstream(gaps: list[float]) -> AsyncIterator[Chunk]:
    for gap in gaps:
        await asyncio.sleep(gap)
        yield chunk("x")


async def consume(gaps: list[float], limits: StreamLimits, client_pause: float = 0.0) -> int:
    record = NullObserver().start(None)  # type: ignore[arg-type]
    stream = PricedStream(MODEL, upstream(gaps), record, limits=limits)
    await stream.start()
    received = 0
    async for _ in stream.chunks():
        received += 1
        await asyncio.sleep(client_pause)
    return received


def test_idle_gap_longer_than_the_limit_is_a_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="next chunk"):
        asyncio.run(consume([0, 0.01, 0.3], StreamLimits(idle_timeout=0.1)))


def test_many_short_gaps_add_up_to_no_timeout() -> None:
    assert asyncio.run(consume([0.03] * 10, StreamLimits(idle_timeout=0.1))) == 10


def test_a_slow_client_is_not_an_idle_provider() -> None:
    assert asyncio.run(consume([0, 0, 0], StreamLimits(idle_timeout=0.05), client_pause=0.15)) == 3


def test_first_chunk_has_its_own_limit() -> None:
    with pytest.raises(UpstreamTimeout, match="first chunk"):
        asyncio.run(consume([0.3], StreamLimits(first_byte_timeout=0.1, idle_timeout=1)))


def test_a_stream_never_read_is_closed_and_released() -> None:
    closed: list[bool] = []
    outcomes: list[bool | None] = []

    async def source() -> AsyncIterator[Chunk]:
        try:
            while True:
                yield chunk("x")
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def scenario() -> None:
        record = NullObserver().start(None)  # type: ignore[arg-type]
        stream = PricedStream(MODEL, source(), record, on_finish=lambda outcome, _: outcomes.append(outcome))
        await stream.start()
        await stream.aclose()  # the client left before anything was written
        await stream.aclose()

    asyncio.run(scenario())
    assert closed == [True]
    assert outcomes == [None]  # released, and no verdict on the provider's health
