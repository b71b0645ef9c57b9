"""Streams through the gateway, in process: retried only before the first chunk, priced even
without a usage report, and the upstream closed whenever the consumer goes away."""

from __future__ import annotations

import asyncio
import math
from contextlib import aclosing

import pytest

from calcifer.domain.breaker import BreakerSettings, BreakerState
from calcifer.domain.priced_stream import PricedStream
from calcifer.errors import UpstreamTimeout, UpstreamUnavailable
from tests.domain.gateway_rig import (
    PRICE,
    REPORTED_USAGE,
    Answer,
    Fail,
    FakeProvider,
    Hang,
    Rig,
    build_rig,
    model,
)

DOWN = Fail(UpstreamUnavailable)
TOUCHY = BreakerSettings(consecutive_failures=1, cooldown_seconds=30)
"""Opens on the first failure counted against it: shows whether anything was counted at all."""


async def read(answer: PricedStream, into: list[str]) -> None:
    """Read a stream as the HTTP layer does, keeping the text of each chunk."""
    async with aclosing(answer.chunks()) as chunks:
        async for chunk in chunks:
            into.extend(choice["delta"].get("content", "") for choice in chunk.data["choices"])


def test_a_stream_failing_before_its_first_chunk_is_retried_and_the_failed_one_closed() -> None:
    upstream = FakeProvider("a", DOWN)
    rig = build_rig([model("m", "a")], upstream)

    served = asyncio.run(rig.ask("m", stream=True))

    assert (served.text, served.attempts) == ("hello from upstream", 2)
    assert upstream.open_streams == upstream.closed_streams == 2


def test_a_stream_silent_past_its_first_byte_timeout_is_retried() -> None:
    upstream = FakeProvider("a", Hang())
    rig = build_rig([model("m", "a")], upstream, first_byte_timeout=0.05)

    served = asyncio.run(rig.ask("m", stream=True))

    assert (served.text, served.attempts) == ("hello from upstream", 2)
    assert upstream.closed_streams == 2


def test_a_stream_failing_after_its_first_chunk_is_not_retried_and_is_still_priced() -> None:
    upstream = FakeProvider("a", Answer("one two", then=DOWN))
    rig = build_rig([model("m", "a")], upstream)
    received: list[str] = []

    async def scenario() -> PricedStream:
        answer = await rig.gateway.stream(rig.request("m", stream=True))
        with pytest.raises(UpstreamUnavailable):
            await read(answer, received)
        return answer

    answer = asyncio.run(scenario())
    assert received == ["one", "two"]
    assert len(upstream.calls) == 1
    assert answer.usage is not None and answer.usage.estimated
    assert answer.cost == PRICE.cost(answer.usage) > 0


def test_a_stream_going_idle_mid_way_is_cut_with_a_timeout_and_not_retried() -> None:
    upstream = FakeProvider("a", Answer("one", then=Hang()))
    rig = build_rig([model("m", "a")], upstream, idle_timeout=0.05)
    received: list[str] = []

    async def scenario() -> None:
        with pytest.raises(UpstreamTimeout, match="next chunk"):
            await read(await rig.gateway.stream(rig.request("m", stream=True)), received)

    asyncio.run(scenario())
    assert received == ["one"]
    assert len(upstream.calls) == upstream.closed_streams == 1


def test_a_stream_ending_without_usage_is_priced_on_a_flagged_estimate() -> None:
    rig = build_rig([model("m", "a")], FakeProvider("a", Answer("four words of text", reports_usage=False)))
    request = rig.request("m", stream=True)
    prompt = request.messages[0]["content"]

    served = asyncio.run(rig.ask("m", stream=True))

    assert served.usage is not None and served.usage.estimated
    assert served.usage.input_tokens == math.ceil(len(prompt) / 4)
    assert served.usage.output_tokens == math.ceil(len("fourwordsoftext") / 4)
    assert served.cost == PRICE.cost(served.usage) > 0


def test_a_reported_usage_is_priced_as_reported_and_the_providers_chunk_is_left_alone() -> None:
    rig = build_rig([model("m", "a")], FakeProvider("a"))

    async def scenario() -> tuple[PricedStream, list[dict[str, object]]]:
        answer = await rig.gateway.stream(rig.request("m", stream=True))
        usages = [chunk.data["usage"] async for chunk in answer.chunks() if "usage" in chunk.data]
        return answer, usages

    answer, usages = asyncio.run(scenario())
    assert answer.usage == REPORTED_USAGE and not answer.usage.estimated
    assert answer.cost == PRICE.cost(REPORTED_USAGE)
    assert len(usages) == 1 and "cost" not in usages[0]  # the renderer adds it to its own copy


async def cancel_reader(rig: Rig, *, busy_between_chunks: bool) -> None:
    """Start reading a stream and cancel the reader after its first chunk, as a client that
    disconnects does, either while the reader waits for the upstream or while it is busy."""
    answer = await rig.gateway.stream(rig.request("m", stream=True))
    first_chunk = asyncio.Event()

    async def reader() -> None:
        async with aclosing(answer.chunks()) as chunks:
            async for _ in chunks:
                first_chunk.set()
                if busy_between_chunks:
                    await asyncio.sleep(30)  # a slow client write

    task = asyncio.create_task(reader())
    await first_chunk.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("busy_between_chunks", [False, True], ids=["waiting-upstream", "busy-client"])
def test_cancelling_the_reader_closes_the_upstream_and_blames_nobody(busy_between_chunks: bool) -> None:
    upstream = FakeProvider("a", Answer("one", then=Hang()))
    rig = build_rig([model("m", "a")], upstream, breaker=TOUCHY)

    async def scenario() -> None:
        await cancel_reader(rig, busy_between_chunks=busy_between_chunks)
        assert upstream.closed_streams == 1  # closed by the time the cancelled reader is done
        assert rig.in_flight() == 0

    asyncio.run(scenario())
    assert rig.breaker("a") is BreakerState.CLOSED


def test_a_stream_never_read_is_closed_by_aclose_and_frees_its_deployment() -> None:
    upstream = FakeProvider("a", Answer("one", then=Hang()))
    rig = build_rig([model("m", "a")], upstream, breaker=TOUCHY)

    async def scenario() -> None:
        answer = await rig.gateway.stream(rig.request("m", stream=True))
        await answer.aclose()  # the client left before the first write

    asyncio.run(scenario())
    assert upstream.closed_streams == 1
    assert rig.in_flight() == 0
    assert rig.breaker("a") is BreakerState.CLOSED
