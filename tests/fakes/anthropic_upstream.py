"""A fake Anthropic Messages API server, streaming events included; it can also send a
scripted list of SSE frames verbatim (`script_frames`), counts tokens, and keeps the raw bytes
of every request body."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tests.fakes.upstream import TOOL_ARGUMENTS, TOOL_NAME, Behaviour, FakeUpstream, Turn, words

DEFAULT_USAGE = {"input_tokens": 12, "output_tokens": 6}
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.raw_bodies: list[bytes] = []
        self._frames: deque[list[bytes]] = deque()

    def script_frames(self, *streams: list[bytes]) -> None:
        """Exact event frames for the next streamed requests, sent byte for byte."""
        with self._lock:
            self._frames.extend(streams)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.raw_bodies.clear()
            self._frames.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        return app

    async def _count_tokens(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.raw_bodies.append(raw)
        self.next_behaviour(request, json.loads(raw))
        return web.json_response({"input_tokens": 4242})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.raw_bodies.append(raw)
        body = json.loads(raw)
        behaviour = self.next_behaviour(request, body)
        await self.delay(behaviour)
        with self._lock:
            frames = self._frames.popleft() if self._frames and body.get("stream") else None
        if frames is not None:
            return await self.stream_events(request, behaviour, frames)
        if behaviour.status != 200:
            kind = ERROR_TYPES.get(behaviour.status, "api_error")
            error = behaviour.error_body or {
                "type": "error",
                "error": {"type": kind, "message": f"fake error {behaviour.status}"},
            }
            return web.json_response(error, status=behaviour.status, headers=behaviour.headers)
        if body.get("stream"):
            return await self.stream_events(request, behaviour, _events(body, behaviour))
        if behaviour.malformed:
            return web.Response(text="{this is not json", content_type="application/json")
        return web.json_response(behaviour.answer or _message(body, behaviour))

    def system_prompt(self) -> str:
        system = self.last.body.get("system", "")
        return system if isinstance(system, str) else "\n\n".join(b["text"] for b in system)

    def turns(self) -> list[Turn]:
        turns = []
        for message in self.last.body["messages"]:
            pieces = []
            for block in message["content"]:
                kind = block["type"]
                if kind == "text":
                    pieces.append(block["text"])
                elif kind == "image":
                    pieces.append("[image]")
                elif kind == "tool_use":
                    pieces.append(f"call {block['name']}({json.dumps(block['input'])})")
                elif kind == "tool_result":
                    pieces.append(f"result({block['tool_use_id']})={block['content']}")
            turns.append(Turn(message["role"], " ".join(pieces)))
        return turns

    def stop_sequences(self) -> list[str]:
        return list(self.last.body.get("stop_sequences") or [])

    def max_tokens(self) -> int | None:
        return int(self.last.body["max_tokens"])


def _message(body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if b.reasoning:
        content.append({"type": "thinking", "thinking": b.reasoning, "signature": "sig"})
    if b.tool_call:
        content.append({"type": "tool_use", "id": "toolu_1", "name": TOOL_NAME, "input": TOOL_ARGUMENTS})
    else:
        content.append({"type": "text", "text": b.text})
    return {
        "id": "msg_fake123",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": STOP_REASONS[b.finish],
        "stop_sequence": None,
        "usage": b.usage or DEFAULT_USAGE,
    }


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _events(body: dict[str, Any], b: Behaviour) -> Iterator[bytes]:
    usage = b.usage or DEFAULT_USAGE
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"} | {"output_tokens": 1}
    if not b.report_usage:
        start_usage = {}
    message = {
        "id": "msg_fake123",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    yield _event("message_start", {"message": message})
    yield _event("ping", {})
    if b.stream_error is not None:
        yield _event("error", b.stream_error)
        return
    if b.malformed:
        yield b"event: content_block_delta\ndata: {not json\n\n"
    index = 0
    if b.reasoning:
        block = {"type": "thinking", "thinking": "", "signature": ""}
        yield _event("content_block_start", {"index": 0, "content_block": block})
        yield _event(
            "content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": b.reasoning}}
        )
        yield _event(
            "content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}
        )
        yield _event("content_block_stop", {"index": 0})
        index = 1
    if b.tool_call:
        block = {"type": "tool_use", "id": "toolu_1", "name": TOOL_NAME, "input": {}}
        yield _event("content_block_start", {"index": index, "content_block": block})
        arguments = json.dumps(TOOL_ARGUMENTS)
        for piece in (arguments[:5], arguments[5:]):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _event("content_block_delta", {"index": index, "delta": delta})
    else:
        yield _event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        for piece in words(b):
            yield _event(
                "content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}
            )
    yield _event("content_block_stop", {"index": index})
    final = {"usage": {"output_tokens": usage["output_tokens"]}} if b.report_usage else {}
    yield _event(
        "message_delta", {"delta": {"stop_reason": STOP_REASONS[b.finish], "stop_sequence": None}, **final}
    )
    yield _event("message_stop", {})
