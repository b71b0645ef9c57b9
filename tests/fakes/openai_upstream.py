"""A fake OpenAI chat-completions server with switchable faults.

Each request takes the next scripted `Behaviour` (or the default one): a normal answer,
an HTTP error with headers, a slow first byte, a stream cut mid-way, malformed JSON,
or a slow endless stream. Everything received is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import BackgroundServer


@dataclass
class Behaviour:
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = "Hello from the fake upstream"
    usage: dict[str, Any] = field(
        default_factory=lambda: {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
    )
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after_chunks: int | None = None
    malformed: bool = False
    endless: bool = False
    finish_reason: str = "stop"
    tool_call: bool = False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAI:
    def __init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.disconnects: list[float] = []
        self.server = BackgroundServer(self._app)

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.received.clear()
            self.disconnects.clear()

    @property
    def last(self) -> Received:
        return self.received[-1]

    def _next(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else Behaviour()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(Received(request.path, dict(request.headers), body))
        behaviour = self._next()
        if behaviour.first_byte_delay:
            await asyncio.sleep(behaviour.first_byte_delay)
        if behaviour.status != 200:
            error = behaviour.error_body or {
                "error": {"message": f"fake error {behaviour.status}", "type": "fake", "code": None}
            }
            return web.json_response(error, status=behaviour.status, headers=behaviour.headers)
        if body.get("stream"):
            return await self._stream(request, body, behaviour)
        if behaviour.malformed:
            return web.Response(text="{this is not json", content_type="application/json")
        return web.json_response(_completion(body, behaviour))

    async def _stream(self, request: web.Request, body: dict[str, Any], b: Behaviour) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for index, event in enumerate(_events(body, b)):
                if b.cut_after_chunks is not None and index == b.cut_after_chunks:
                    assert request.transport is not None
                    request.transport.close()  # drop the connection mid-stream, no [DONE]
                    return response
                if index and b.chunk_delay:
                    await asyncio.sleep(b.chunk_delay)
                await response.write(event)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects.append(time.monotonic())
            raise
        await response.write_eof()
        return response


def _completion(body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": b.text}
    if b.tool_call:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": 1700000000,
        "model": body["model"] + "-2099-01-01",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": b.finish_reason}],
        "usage": b.usage,
    }


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> bytes:
    data = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": body["model"] + "-2099-01-01",
        "choices": choices,
        **extra,
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _events(body: dict[str, Any], b: Behaviour) -> Any:
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    yield _chunk(
        body,
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        **({"usage": None} if with_usage else {}),
    )
    if b.malformed:
        yield b"data: {not json\n\n"
    words = b.text.split(" ")
    count = 0
    while True:
        for i, word in enumerate(words):
            piece = word if i == 0 and count == 0 else " " + word
            yield _chunk(body, [{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            count += 1
        if not b.endless:
            break
    yield _chunk(body, [{"index": 0, "delta": {}, "finish_reason": b.finish_reason}])
    if with_usage:
        yield _chunk(body, [], usage=b.usage)
    yield b"data: [DONE]\n\n"
