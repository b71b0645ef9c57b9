"""Golden cost cases: recorded usage reports of each provider, with their exact cost.

Each provider reports usage its own way; every case goes through the adapter's own
mapping (and, for streams, its stream translation and the gateway's priced stream) and
must land on the expected Decimal exactly. Zero drift is the bar.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from google.genai import types

from calcifer.domain.chat import Chunk
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import Price
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.formats.openai_chat import read_chunk
from calcifer.providers.anthropic import StreamTranslator, usage_from_anthropic
from calcifer.providers.google import ResponseReader, usage_from_gemini
from calcifer.providers.openai import usage_from_openai

M = Decimal(1_000_000)
GPT_4O = Price(input=Decimal("2.50"), cached_input=Decimal("1.25"), output=Decimal("10.00"))
O3 = Price(input=Decimal("2.00"), cached_input=Decimal("0.50"), output=Decimal("8.00"))
SONNET = Price(
    input=Decimal(3), cached_input=Decimal("0.30"), cache_write=Decimal("3.75"), output=Decimal(15)
)
FLASH = Price(input=Decimal("0.30"), cached_input=Decimal("0.03"), output=Decimal("2.50"))


@pytest.mark.parametrize(
    ("payload", "price", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 1000, "completion_tokens": 500},
            GPT_4O,
            (1000 * Decimal("2.50") + 500 * 10) / M,
            id="plain",
        ),
        pytest.param(
            {
                "prompt_tokens": 2006,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1920},
            },
            GPT_4O,
            (86 * Decimal("2.50") + 1920 * Decimal("1.25") + 300 * 10) / M,
            id="cached",
        ),
        pytest.param(
            {
                "prompt_tokens": 75,
                "completion_tokens": 1186,
                "completion_tokens_details": {"reasoning_tokens": 1024},
            },
            O3,
            (75 * 2 + 1186 * 8) / M,
            id="reasoning",
        ),
        pytest.param(
            {
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "prompt_cache_hit_tokens": 64,
                "prompt_cache_miss_tokens": 36,
            },
            GPT_4O,
            (36 * Decimal("2.50") + 64 * Decimal("1.25") + 10 * 10) / M,
            id="deepseek-cache-hit",
        ),
    ],
)
def test_openai_golden_costs(payload: dict[str, Any], price: Price, expected: Decimal) -> None:
    assert price.cost(usage_from_openai(payload)) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param({"input_tokens": 1000, "output_tokens": 500}, (1000 * 3 + 500 * 15) / M, id="plain"),
        pytest.param(
            {"input_tokens": 50, "cache_read_input_tokens": 100_000, "output_tokens": 300},
            (50 * 3 + 100_000 * Decimal("0.30") + 300 * 15) / M,
            id="cache-read",
        ),
        pytest.param(
            {"input_tokens": 50, "cache_creation_input_tokens": 100_000, "output_tokens": 300},
            (50 * 3 + 100_000 * Decimal("3.75") + 300 * 15) / M,
            id="cache-write",
        ),
    ],
)
def test_anthropic_golden_costs(payload: dict[str, Any], expected: Decimal) -> None:
    assert SONNET.cost(usage_from_anthropic(payload)) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            {"prompt_token_count": 1000, "candidates_token_count": 500},
            (1000 * Decimal("0.30") + 500 * Decimal("2.50")) / M,
            id="plain",
        ),
        pytest.param(
            {
                "prompt_token_count": 40_000,
                "cached_content_token_count": 32_768,
                "candidates_token_count": 200,
            },
            (7232 * Decimal("0.30") + 32_768 * Decimal("0.03") + 200 * Decimal("2.50")) / M,
            id="cached",
        ),
        pytest.param(
            {"prompt_token_count": 12, "candidates_token_count": 40, "thoughts_token_count": 900},
            (12 * Decimal("0.30") + 940 * Decimal("2.50")) / M,
            id="thoughts",
        ),
    ],
)
def test_gemini_golden_costs(payload: dict[str, Any], expected: Decimal) -> None:
    assert FLASH.cost(usage_from_gemini(payload)) == expected


# --- streams: usage arriving in pieces, at the end, or never -----------------------

ANTHROPIC_EVENTS = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "usage": {
                "input_tokens": 1200,
                "cache_read_input_tokens": 800,
                "cache_creation_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello world"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}},
    {"type": "message_stop"},
]


def anthropic_chunks(events: list[dict[str, Any]]) -> list[Chunk]:
    translator = StreamTranslator("anthropic", "claude-sonnet-4-5")
    return [chunk for event in events for chunk in translator.feed(event)]


def gemini_chunks(responses: list[dict[str, Any]]) -> list[Chunk]:
    reader = ResponseReader("gemini-2.5-flash")
    chunks = []
    for raw in responses:
        for delta, finish in reader.read(types.GenerateContentResponse.model_validate(raw)):
            chunks.append(reader.chunk(delta, finish))
    usage = reader.usage()
    chunks.append(Chunk({"choices": []}, usage=usage))
    return chunks


GEMINI_RESPONSES = [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
        "usage_metadata": {
            "prompt_token_count": 5000,
            "cached_content_token_count": 4096,
            "candidates_token_count": 1,
        },
    },
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finish_reason": "STOP"}],
        "usage_metadata": {
            "prompt_token_count": 5000,
            "cached_content_token_count": 4096,
            "candidates_token_count": 30,
            "thoughts_token_count": 120,
        },
    },
]


async def priced(chunks: list[Chunk], price: Price, *, take: int | None = None) -> PricedStream:
    """Run chunks through the gateway's priced stream; stop after `take` as a client would."""

    async def upstream() -> AsyncIterator[Chunk]:
        for chunk in chunks:
            yield chunk

    model = ModelSpec("m", "p", "m", price)
    call = UpstreamCall(request=None, model=model)  # type: ignore[arg-type]
    stream = PricedStream(model, upstream(), NullObserver().start(call), prompt_chars=400)
    await stream.start()
    consumer = stream.chunks()
    received = 0
    async for _ in consumer:
        received += 1
        if take is not None and received == take:
            await consumer.aclose()
            break
    return stream


def test_anthropic_stream_usage_spread_over_start_and_delta() -> None:
    stream = asyncio.run(priced(anthropic_chunks(ANTHROPIC_EVENTS), SONNET))
    assert stream.usage == Usage(input_tokens=1200, cache_read_tokens=800, output_tokens=42)
    assert stream.cost == (1200 * 3 + 800 * Decimal("0.30") + 42 * 15) / M


def test_anthropic_stream_cancelled_after_first_words_prices_what_was_reported() -> None:
    stream = asyncio.run(priced(anthropic_chunks(ANTHROPIC_EVENTS), SONNET, take=2))
    # message_start reported the input side; "Hello world" (11 characters) ≈ 3 output tokens
    assert stream.usage == Usage(input_tokens=1200, cache_read_tokens=800, output_tokens=3, estimated=True)
    assert stream.cost == (1200 * 3 + 800 * Decimal("0.30") + 3 * 15) / M


def test_gemini_stream_takes_the_last_running_count() -> None:
    stream = asyncio.run(priced(gemini_chunks(GEMINI_RESPONSES), FLASH))
    assert stream.usage == Usage(
        input_tokens=904, cache_read_tokens=4096, output_tokens=30, reasoning_tokens=120
    )
    assert stream.cost == (904 * Decimal("0.30") + 4096 * Decimal("0.03") + 150 * Decimal("2.50")) / M


def test_openai_stream_usage_in_the_last_event() -> None:
    usage = usage_from_openai(
        {"prompt_tokens": 2006, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1920}}
    )
    chunks = [
        read_chunk({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
        read_chunk({"choices": [], "usage": {"prompt_tokens": 2006}}, usage=usage),
    ]
    stream = asyncio.run(priced(chunks, GPT_4O))
    assert stream.cost == (86 * Decimal("2.50") + 1920 * Decimal("1.25") + 300 * 10) / M


def test_stream_that_never_reports_usage_is_estimated_and_flagged() -> None:
    chunks = [read_chunk({"choices": [{"index": 0, "delta": {"content": "x" * 41}}]})]
    stream = asyncio.run(priced(chunks, GPT_4O))
    assert stream.usage == Usage(input_tokens=100, output_tokens=11, estimated=True)  # 400 and 41 characters
    assert stream.cost == (100 * Decimal("2.50") + 11 * 10) / M
