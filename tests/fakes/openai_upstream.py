"""A fake OpenAI chat-completions server (also the shape of every OpenAI-compatible one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tests.fakes.embeddings_upstream import add_openai_embeddings
from tests.fakes.upstream import TOOL_ARGUMENTS, TOOL_NAME, Behaviour, FakeUpstream, Turn, words

__all__ = ["Behaviour", "FakeOpenAI", "error_response"]

DEFAULT_USAGE = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}


class FakeOpenAI(FakeUpstream):
    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        add_openai_embeddings(app, self)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        behaviour = self.next_behaviour(request, body)
        await self.delay(behaviour)
        if behaviour.hang_up and request.transport is not None:
            request.transport.abort()
            return web.Response()
        if behaviour.status != 200:
            return error_response(behaviour)
        if body.get("stream"):
            return await self.stream_events(request, behaviour, _events(body, behaviour))
        if behaviour.malformed:
            return web.Response(text="{this is not json", content_type="application/json")
        return web.json_response(behaviour.answer or _completion(body, behaviour))

    def system_prompt(self) -> str:
        return "\n\n".join(t.text for t in self._all_turns() if t.role in ("system", "developer"))

    def turns(self) -> list[Turn]:
        return [t for t in self._all_turns() if t.role not in ("system", "developer")]

    def stop_sequences(self) -> list[str]:
        stop = self.last.body.get("stop")
        return [stop] if isinstance(stop, str) else list(stop or [])

    def max_tokens(self) -> int | None:
        body = self.last.body
        value = body.get("max_completion_tokens") or body.get("max_tokens")
        return int(value) if value is not None else None

    def _all_turns(self) -> list[Turn]:
        turns = []
        for message in self.last.body["messages"]:
            content = message.get("content")
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            text = " ".join(p["text"] if p["type"] == "text" else "[image]" for p in parts)
            for call in message.get("tool_calls") or ():
                text += f" call {call['function']['name']}({call['function']['arguments']})"
            if message["role"] == "tool":
                text = f"result({message['tool_call_id']})={content}"
            turns.append(Turn(message["role"], text.strip()))
        return turns


def error_response(behaviour: Behaviour) -> web.Response:
    """The behaviour's error status, with its body or OpenAI's error shape."""
    error = behaviour.error_body or {
        "error": {"message": f"fake error {behaviour.status}", "type": "fake", "code": None}
    }
    return web.json_response(error, status=behaviour.status, headers=behaviour.headers)


def _completion(body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": b.text}
    if b.tool_call:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": TOOL_NAME, "arguments": json.dumps(TOOL_ARGUMENTS)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": 1700000000,
        "model": body["model"] + "-2099-01-01",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": b.finish}],
        "usage": b.usage or DEFAULT_USAGE,
    }


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> bytes:
    data: dict[str, Any] = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": body["model"] + "-2099-01-01",
        "choices": choices,
        **extra,
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _delta(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "finish_reason": finish}]


def _events(body: dict[str, Any], b: Behaviour) -> Iterator[bytes]:
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    tier = {"service_tier": b.service_tier} if b.service_tier else {}
    yield _chunk(
        body,
        _delta({"role": "assistant", "content": ""}),
        **({"usage": None} if with_usage else {}),
        **tier,
    )
    if b.malformed:
        yield b"data: {not json\n\n"
    if b.stream_error is not None:
        yield b"data: " + json.dumps(b.stream_error).encode() + b"\n\n"
        return
    if b.tool_call:
        head = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": TOOL_NAME, "arguments": ""},
        }
        yield _chunk(body, _delta({"tool_calls": [head]}))
        arguments = json.dumps(TOOL_ARGUMENTS)
        for piece in (arguments[:5], arguments[5:]):
            yield _chunk(body, _delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        for piece in words(b):
            yield _chunk(body, _delta({"content": piece}), **tier)
    yield _chunk(body, _delta({}, b.finish), **tier)
    if with_usage and b.report_usage:
        yield _chunk(body, [], usage=b.usage or DEFAULT_USAGE, **tier)
    yield b"data: [DONE]\n\n"
