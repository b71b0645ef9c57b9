"""The priced stream reads only what adapters report on each chunk, never the chunk's body:
a stream in any wire shape is priced, estimated and recorded the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, NoReturn

from calcifer.domain.chat import Chunk
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import Price
from calcifer.domain.usage import Usage

PRICE = Price(input=Decimal(3), cached_input=Decimal("0.30"), output=Decimal(15))
MODEL = ModelSpec("m", "p", "m", PRICE)
M = Decimal(1_000_000)


class SealedBody(dict[str, Any]):
    """A chunk body in a shape no OpenAI reader would know, that fails the test if read."""

    def _read(self, *args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the priced stream read a chunk's wire body")

    __getitem__ = get = __contains__ = __iter__ = keys = items = values = _read


def event(kind: str, **facts: Any) -> Chunk:
    """A chunk as an adapter for a made-up vendor would make it: its own event shape, the
    neutral facts beside it."""
    return Chunk(SealedBody(event=kind), **facts)


ANSWER = [
    event(
        "opened",
        response_id="resp_7",
        response_model="vendor-model-2",
        usage_so_far=Usage(input_tokens=900, cache_read_tokens=100, output_tokens=1),
    ),
    event("text", text_chars=40),
    event("thought", text_chars=20),
    event("tool_input", text_chars=21),
    event("stopped", finish_reasons=("tool_calls",)),
    event("usage", usage=Usage(input_tokens=900, cache_read_tokens=100, output_tokens=70)),
]


async def run(chunks: list[Chunk], *, take: int | None = None) -> tuple[PricedStream, list[Chunk]]:
    async def upstream() -> AsyncIterator[Chunk]:
        for chunk in chunks:
            yield chunk

    stream = PricedStream(MODEL, upstream(), NullObserver().start(None), prompt_chars=4000)  # type: ignore[arg-type]
    await stream.start()
    received: list[Chunk] = []
    consumer = stream.chunks()
    async for chunk in consumer:
        received.append(chunk)
        if take is not None and len(received) == take:
            await consumer.aclose()
            break
    return stream, received


def test_a_stream_in_another_shape_is_priced_from_the_reported_usage() -> None:
    stream, received = asyncio.run(run(ANSWER))
    assert received == ANSWER and all(a is b for a, b in zip(received, ANSWER, strict=True))
    assert stream.usage == Usage(input_tokens=900, cache_read_tokens=100, output_tokens=70)
    assert stream.cost == (900 * 3 + 100 * Decimal("0.30") + 70 * 15) / M


def test_a_stream_in_another_shape_records_id_model_and_finish_reason() -> None:
    stream, _ = asyncio.run(run(ANSWER))
    assert (stream.result.response_id, stream.result.response_model) == ("resp_7", "vendor-model-2")
    assert stream.result.finish_reasons == ["tool_calls"]


def test_a_stream_cut_short_is_estimated_from_delivered_characters_and_what_was_reported() -> None:
    stream, _ = asyncio.run(run(ANSWER, take=4))  # the client leaves before the usage report
    # 40 + 20 + 21 characters of text, thoughts and tool input ≈ 21 tokens; the input side as reported
    assert stream.usage == Usage(input_tokens=900, cache_read_tokens=100, output_tokens=21, estimated=True)
    assert stream.cost == (900 * 3 + 100 * Decimal("0.30") + 21 * 15) / M


def test_a_stream_that_never_reports_usage_is_estimated_from_prompt_and_answer() -> None:
    chunks = [event("text", text_chars=41), event("text", text_chars=3)]
    stream, _ = asyncio.run(run(chunks))
    assert stream.usage == Usage(input_tokens=1000, output_tokens=11, estimated=True)
    assert stream.cost == (1000 * 3 + 11 * 15) / M
