"""A fake OpenAI Responses API server (`POST /v1/responses`), streamed and not: text,
reasoning items, function calls, a length cut, errors before and after the first event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tests.fakes.openai_upstream import FakeOpenAI, error_response
from tests.fakes.upstream import TOOL_ARGUMENTS, TOOL_NAME, Behaviour, words

__all__ = ["Behaviour", "FakeResponses"]

DEFAULT_USAGE = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 5},
    "output_tokens": 9,
    "output_tokens_details": {"reasoning_tokens": 3},
    "total_tokens": 29,
}


class FakeResponses(FakeOpenAI):
    """Serves only `/v1/responses` (its chat-completions views of a request do not apply)."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/responses", self._responses)
        return app

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        behaviour = self.next_behaviour(request, body)
        await self.delay(behaviour)
        if behaviour.status != 200:
            return error_response(behaviour)
        if body.get("stream"):
            return await self.stream_events(request, behaviour, _events(body, behaviour))
        return web.json_response(behaviour.answer or _response(body, behaviour, _output(behaviour)))


def _response(
    body: dict[str, Any], b: Behaviour, output: list[dict[str, Any]], status: str = ""
) -> dict[str, Any]:
    incomplete = b.finish == "length"
    return {
        "id": "resp_fake_1",
        "object": "response",
        "created_at": 1_760_000_000,
        "status": status or ("incomplete" if incomplete else "completed"),
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": b.usage or DEFAULT_USAGE,
    }


def _output(b: Behaviour) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"type": "web_search_call", "id": f"ws_{n}", "status": "completed", "action": {"type": "search"}}
        for n in range(b.web_searches)
    ]
    if b.reasoning:
        items.append(_reasoning(b.reasoning))
    if b.tool_call:
        items.append(_call(json.dumps(TOOL_ARGUMENTS)))
    else:
        items.append(_message(b.text))
    return items


def _reasoning(text: str) -> dict[str, Any]:
    return {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
        "encrypted_content": "opaque-upstream-blob",
    }


def _call(arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": TOOL_NAME,
        "arguments": arguments,
        "status": status,
    }


def _message(text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []
    return {"id": "msg_1", "type": "message", "role": "assistant", "status": status, "content": content}


def _events(body: dict[str, Any], b: Behaviour) -> Iterator[bytes]:
    sequence = iter(range(10_000))

    def event(kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": next(sequence), **fields}
        return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()

    started = _response(body, b, [], "in_progress") | {"usage": None}
    yield event("response.created", response=started)
    if b.stream_error is not None:
        yield event("error", **b.stream_error)
        return
    yield event("response.in_progress", response=started)
    index = 0
    if b.reasoning:
        yield event("response.output_item.added", output_index=0, item=_reasoning("") | {"summary": []})
        yield event("response.output_item.done", output_index=0, item=_reasoning(b.reasoning))
        index = 1
    if b.tool_call:
        arguments = json.dumps(TOOL_ARGUMENTS)
        yield event("response.output_item.added", output_index=index, item=_call("", "in_progress"))
        yield event(
            "response.function_call_arguments.delta", item_id="fc_1", output_index=index, delta=arguments
        )
        yield event(
            "response.function_call_arguments.done", item_id="fc_1", output_index=index, arguments=arguments
        )
        yield event("response.output_item.done", output_index=index, item=_call(arguments))
    else:
        yield from _text_events(event, b, index)
    kind = "response.incomplete" if b.finish == "length" else "response.completed"
    yield event(kind, response=_response(body, b, _output(b)))


def _text_events(event: Any, b: Behaviour, index: int) -> Iterator[bytes]:
    where = {"item_id": "msg_1", "output_index": index, "content_index": 0}
    yield event("response.output_item.added", output_index=index, item=_message("", "in_progress"))
    yield event(
        "response.content_part.added", **where, part={"type": "output_text", "text": "", "annotations": []}
    )
    for piece in words(b):
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
    yield event("response.output_text.done", **where, text=b.text, logprobs=[])
    yield event(
        "response.content_part.done", **where, part={"type": "output_text", "text": b.text, "annotations": []}
    )
    yield event("response.output_item.done", output_index=index, item=_message(b.text))
