"""The chat renderer writes the cost into what it sends, never into the provider's chunk or
body, and forwards the provider's own bytes wherever it has nothing to add."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson

from calcifer.domain.chat import Chunk, PricedCompletion
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import Price
from calcifer.domain.usage import Usage
from calcifer.formats.openai_chat import read_chunk, read_completion
from calcifer.http.api.openai_chat import completion_body, send_chunk_stream
from calcifer.http.sse import SseSink

MODEL = ModelSpec("m", "p", "m", Price(Decimal("2.50"), Decimal("10.00")))
USAGE = Usage(input_tokens=12, output_tokens=6)
COST = (12 * Decimal("2.50") + 6 * 10) / 1_000_000
# As a provider sends them: spacing and key order a re-encoding would not keep.
PAYLOADS = [
    b'{"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}',
    b'{"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {},'
    b' "finish_reason": "stop"}]}',
    b'{"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 12,'
    b' "completion_tokens": 6, "total_tokens": 18}}',
]


class CollectingResponse:
    """Stands in for Sanic's streaming response."""

    def __init__(self) -> None:
        self.body = b""

    async def send(self, data: bytes) -> None:
        self.body += data

    async def eof(self) -> None:
        return None


def provider_chunks() -> list[Chunk]:
    chunks = []
    for payload in PAYLOADS:
        data = orjson.loads(payload)
        chunks.append(read_chunk(data, payload, USAGE if "usage" in data else None))
    return chunks


async def render(chunks: list[Chunk], include_usage: bool) -> bytes:
    async def upstream() -> AsyncIterator[Chunk]:
        for chunk in chunks:
            yield chunk

    response = CollectingResponse()
    stream = PricedStream(MODEL, upstream(), NullObserver().start(None))  # type: ignore[arg-type]
    await stream.start()
    await send_chunk_stream(SseSink(response, "req", set()), stream, include_usage)  # type: ignore[arg-type]
    return response.body


def events(body: bytes) -> list[bytes]:
    return [line.removeprefix(b"data: ") for line in body.split(b"\n\n") if line]


def test_the_usage_chunk_is_sent_with_its_cost_and_the_providers_chunk_is_left_alone() -> None:
    chunks = provider_chunks()
    before = [(copy.deepcopy(chunk.data), chunk.raw) for chunk in chunks]
    sent = events(asyncio.run(render(chunks, include_usage=True)))
    assert [(chunk.data, chunk.raw) for chunk in chunks] == before
    usage = orjson.loads(sent[2])["usage"]
    assert Decimal(str(usage["cost"])) == COST
    assert "cost" not in chunks[2].data["usage"]


def test_chunks_without_usage_are_forwarded_as_the_provider_wrote_them() -> None:
    sent = events(asyncio.run(render(provider_chunks(), include_usage=True)))
    assert sent[:2] == PAYLOADS[:2]
    assert sent[3] == b"[DONE]"


def test_usage_the_client_did_not_ask_for_is_withheld_without_touching_the_chunk() -> None:
    chunks = provider_chunks()
    before = copy.deepcopy(chunks[2].data)
    sent = events(asyncio.run(render(chunks, include_usage=False)))
    assert sent == [*PAYLOADS[:2], b"[DONE]"]
    assert chunks[2].data == before and chunks[2].raw == PAYLOADS[2]


def test_a_completion_is_sent_with_its_cost_and_the_providers_body_is_left_alone() -> None:
    body = orjson.loads(
        b'{"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message":'
        b' {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}], "usage":'
        b' {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}'
    )
    before = copy.deepcopy(body)
    sent = completion_body(PricedCompletion(read_completion(body, USAGE), MODEL, COST))
    assert body == before
    assert sent["usage"] == {**before["usage"], "cost": COST}
    assert list(sent) == list(before)
