"""The gateway's own per-chunk work on a stream, in process: adapter reading, pricing, rendering.

`python -m bench.stream_pricing [--streams N] [--repeat R]` runs 50-chunk streams (the bench
fake's chunks, then a finish chunk and a usage chunk) through an adapter's chunk reading,
`PricedStream` and an HTTP renderer writing into a sink that only collects bytes, and prints
the best of R runs as CPU µs per stream and per chunk. No sockets: what it measures is Python
code the real stream runs for every chunk, with the network and the event loop's I/O left out.
CPU time (`time.process_time`), not wall time, so that other work on a shared machine counts
as little as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from decimal import Decimal

import orjson

from bench.fake_upstream import FIRST, LAST, TOKEN, USAGE_EVENT
from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.ports import StoredResponse
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.pricing import Price
from calcifer.http.api import completions, openai_chat, openai_responses
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink
from calcifer.providers.anthropic import StreamTranslator, parse_event
from calcifer.providers.openai import OpenAIProvider
from calcifer.providers.openai_responses import ResponsesPassThrough
from calcifer.transport.registry import Transports

CHUNKS = 50
MODEL = ModelSpec("bench-model", "bench", "bench-model", Price(Decimal("2.5"), Decimal("10")))
OPENAI_PAYLOADS = [e[len(b"data: ") : -2] for e in (FIRST, *[TOKEN] * CHUNKS, LAST, USAGE_EVENT)]
ANTHROPIC_PAYLOADS = [
    orjson.dumps(event)
    for event in (
        {
            "type": "message_start",
            "message": {"id": "msg_bench", "model": "bench-model", "usage": {"input_tokens": 12}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *[{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tok "}}]
        * CHUNKS,
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}},
        {"type": "message_stop"},
    )
]
_TEXT = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
RESPONSES_FRAMES = [
    b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
    for event in (
        {"type": "response.created", "response": {"id": "resp_1", "model": "bench-model", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "msg_1", "type": "message"}},
        *[{"type": "response.output_text.delta", **_TEXT, "delta": "tok ", "logprobs": []}] * CHUNKS,
        {"type": "response.output_item.done", "output_index": 0, "item": {"id": "msg_1", "type": "message"}},
        {"type": "response.completed",
         "response": {"id": "resp_1", "model": "bench-model", "status": "completed",
                      "usage": {"input_tokens": 12, "output_tokens": 50}}},
    )
]  # fmt: skip


class _CollectingResponse:
    """Stands in for Sanic's streaming response: keeps the byte count, writes nothing."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, data: bytes) -> None:
        self.sent += len(data)

    async def eof(self) -> None:
        return None


def _openai_source() -> Callable[[], Iterable[Chunk]]:
    """The OpenAI adapter's reading of each event's JSON text, as its stream does it."""
    config = ProviderConfig(id="bench", kind="openai", base_url="http://127.0.0.1:9/v1")
    provider = OpenAIProvider(config, Transports())  # no call is made: only its chunk reading runs
    return lambda: (provider._chunk(payload) for payload in OPENAI_PAYLOADS)


def _anthropic_chunks() -> Iterable[Chunk]:
    """The Anthropic adapter's translation of Messages events into chat chunks."""
    translator = StreamTranslator("bench", "bench-model")
    return (
        chunk for payload in ANTHROPIC_PAYLOADS for chunk in translator.feed(parse_event("bench", payload))
    )


def _responses_source() -> Iterable[Chunk]:
    """The pass-through's reading of Responses events (only usage and counts are read)."""
    reader = ResponsesPassThrough("bench", None)  # type: ignore[arg-type]  # no call is made
    return (chunk for frame in RESPONSES_FRAMES if (chunk := reader._chunk(frame)) is not None)


class _NoStore:
    async def save_response(self, stored: StoredResponse) -> None:
        return None


async def _responses(sink: SseSink, stream: PricedStream) -> None:
    """`POST /v1/responses`' renderer: canonical chunks translated, or native ones relayed."""
    turn = openai_responses._Turn(_NoStore(), RequestScope("bench", "/v1/responses"))  # type: ignore[arg-type]
    await turn.parse({"model": "bench-model", "input": "hi"}, None)
    await turn.send_stream(sink, stream, None)  # type: ignore[arg-type]


async def _upstream(chunks: Iterable[Chunk]) -> AsyncIterator[Chunk]:
    for chunk in chunks:
        yield chunk


Render = Callable[[SseSink, PricedStream], Awaitable[None]]
_RENDERERS_OF = {"anthropic": ("chat, usage asked",), "responses": ("responses",)}
"""Renderers other sources are measured with (OpenAI chunks go through every one)."""
RENDERERS: dict[str, Render] = {
    "chat, usage asked": lambda sink, stream: openai_chat.send_chunk_stream(sink, stream, True),
    "chat, no usage": lambda sink, stream: openai_chat.send_chunk_stream(sink, stream, False),
    "seed deltas": completions.send_delta_stream,
    "responses": _responses,
}


async def _one_stream(source: Callable[[], Iterable[Chunk]], render: Render) -> int:
    response = _CollectingResponse()
    sink = SseSink(response, "bench", set())  # type: ignore[arg-type]
    stream = PricedStream(MODEL, _upstream(source()), NullObserver().start(None), prompt_chars=40)  # type: ignore[arg-type]
    await stream.start()
    await render(sink, stream)
    assert stream.cost is not None and response.sent > 0
    return response.sent


async def _best_of(source: Callable[[], Iterable[Chunk]], render: Render, streams: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(streams):
            await _one_stream(source, render)
        best = min(best, (time.process_time() - started) / streams)
    return best


async def _main(streams: int, repeat: int) -> None:
    sources = {"openai": _openai_source(), "anthropic": _anthropic_chunks, "responses": _responses_source}
    print(f"| source → renderer | µs per {CHUNKS}-chunk stream | µs per chunk |")
    print("|---|---|---|")
    for source_name, source in sources.items():
        for render_name, render in RENDERERS.items():
            if source_name != "openai" and render_name not in _RENDERERS_OF.get(source_name, ()):
                continue
            seconds = await _best_of(source, render, streams, repeat)
            print(f"| {source_name} → {render_name} | {seconds * 1e6:.1f} | {seconds * 1e6 / CHUNKS:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    asyncio.run(_main(options.streams, options.repeat))
