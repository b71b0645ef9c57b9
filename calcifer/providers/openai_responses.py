"""The Responses API pass-through of the `openai` adapter: the client's body sent to
`{base_url}/responses` with only the model mapped, the answer relayed as the server sent it
(whole SSE frames), and only what pricing needs read from it.

Usage mapping (subsets inside totals, as in chat):
    input_tokens − input_tokens_details.cached_tokens     → input_tokens
    input_tokens_details.cached_tokens                    → cache_read_tokens
    output_tokens − output_tokens_details.reasoning_tokens → output_tokens
    output_tokens_details.reasoning_tokens                → reasoning_tokens
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import orjson

from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.providers.forwarding import Forwarder
from calcifer.providers.upstream_errors import json_object
from calcifer.providers.usage_reading import estimated_usage, read_usage, tokens, tool_calls
from calcifer.transport.sse import data_of

__all__ = ["ResponsesPassThrough", "usage_from_responses"]

_LIFECYCLE_END = frozenset({"response.completed", "response.incomplete", "response.failed"})
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def usage_from_responses(usage: Mapping[str, Any]) -> Usage:
    """A Responses usage object in our buckets (cached inside input, reasoning inside output)."""
    cached = tokens(usage, "input_tokens_details", "cached_tokens")
    writes = tokens(usage, "input_tokens_details", "cache_write_tokens")  # GPT-5.6 and later
    reasoning = tokens(usage, "output_tokens_details", "reasoning_tokens")
    return Usage(
        input_tokens=tokens(usage, "input_tokens") - cached - writes,
        cache_read_tokens=cached,
        cache_write_tokens=writes,
        output_tokens=tokens(usage, "output_tokens") - reasoning,
        reasoning_tokens=reasoning,
    )


def response_usage(response: Mapping[str, Any]) -> Usage | None:
    """A whole response's usage: its usage object, the tier that served it, and its server-side
    tool calls (each `web_search_call` output item is one billed search)."""
    usage = read_usage(usage_from_responses, response.get("usage"))
    if usage is None:
        return None
    output = response.get("output")
    items = output if isinstance(output, list) else []
    searches = sum(1 for item in items if isinstance(item, dict) and item.get("type") == "web_search_call")
    return replace(
        usage, tool_calls=tool_calls(web_search=searches), service_tier=_text(response.get("service_tier"))
    )


def _upstream_body(call: UpstreamCall, *, stream: bool) -> bytes:
    assert call.request.native is not None
    body = {key: value for key, value in call.request.native.body.items() if key != "stream"}
    body["model"] = call.model.upstream_model
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def _finish_reasons(response: Mapping[str, Any]) -> tuple[str, ...]:
    status = response.get("status")
    if status == "completed":
        return ("stop",)
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return (_INCOMPLETE_REASONS.get(str(reason), "length"),)
    return ()


def output_characters(output: object) -> int:
    """Generated characters of a response's output items: message text, reasoning summaries
    and function-call arguments (what the stream's deltas carry), not their JSON."""
    total = 0
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, dict):
            continue
        arguments = item.get("arguments")
        total += len(arguments) if isinstance(arguments, str) else 0
        for part in [*(item.get("content") or ()), *(item.get("summary") or ())]:
            text = part.get("text") if isinstance(part, dict) else None
            total += len(text) if isinstance(text, str) else 0
    return total


def _characters(data: Mapping[str, Any]) -> int:
    """Generated characters in one event: text, reasoning and argument deltas."""
    delta = data.get("delta")
    return len(delta) if isinstance(delta, str) else 0


class ResponsesPassThrough:
    """POSTs to one server's `/responses` through the adapter's forwarder."""

    def __init__(self, provider: str, forwarder: Forwarder) -> None:
        self._provider = provider
        self._forwarder = forwarder

    async def complete(self, call: UpstreamCall, url: str, headers: Mapping[str, str]) -> Completion:
        payload = await self._forwarder.post(url, _upstream_body(call, stream=False), headers)
        data = json_object(self._provider, payload, "a body")
        usage = response_usage(data)
        if usage is None:  # the one estimate: the text it generated, four characters a token
            usage = estimated_usage(call, output_characters(data.get("output")))
        return Completion(
            data,
            usage,
            response_id=_text(data.get("id")),
            response_model=_text(data.get("model")),
            finish_reasons=_finish_reasons(data),
            native=True,
        )

    async def stream(
        self, call: UpstreamCall, url: str, headers: Mapping[str, str]
    ) -> AsyncGenerator[Chunk, None]:
        body = _upstream_body(call, stream=True)
        async with aclosing(self._forwarder.stream(url, body, headers, frames=True)) as batches:
            async for batch in batches:
                chunks = [chunk for frame in batch if (chunk := self._chunk(frame)) is not None]
                for index, chunk in enumerate(chunks):
                    chunk.more = index < len(chunks) - 1
                    yield chunk

    def _chunk(self, frame: bytes) -> Chunk | None:
        payload = data_of(frame)
        if payload is None or payload == b"[DONE]":
            return None  # a comment or keep-alive: nothing a client needs
        data = json_object(self._provider, payload, "a stream event")
        response = data.get("response")
        if not isinstance(response, dict):
            return Chunk(data, frame, text_chars=_characters(data), native=True)
        end = data.get("type") in _LIFECYCLE_END
        return Chunk(
            data,
            frame,
            usage=response_usage(response) if end else None,
            finish_reasons=_finish_reasons(response) if end else (),
            response_id=_text(response.get("id")),
            response_model=_text(response.get("model")),
            native=True,
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
