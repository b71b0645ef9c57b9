"""Anthropic's Messages wire shape for answers: a canonical completion → a `message` body,
canonical chunks → Anthropic's streaming grammar, and Anthropic's error body.

The request side is `calcifer.formats.anthropic_request`. A pass-through answer (an Anthropic
provider's own) never comes here: it reaches the client as the provider sent it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from calcifer.domain.chat import Chunk
from calcifer.domain.pricing import format_usd
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as chat_wire
from calcifer.formats.anthropic_request import IGNORED_HINTS, translate_messages_request

__all__ = [
    "IGNORED_HINTS",
    "STOP_REASONS",
    "EventWriter",
    "anthropic_error",
    "error_event",
    "frame",
    "message_body",
    "translate_messages_request",
    "usage_fields",
]

JsonObject = dict[str, Any]

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
"""Canonical finish reason → Anthropic stop_reason (the chat shape cannot tell a stop sequence
from a natural end: both are `end_turn`)."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "overloaded_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The gateway's error (OpenAI's shape) in Anthropic's: the type follows the status (the
    SDK picks its exception class by status); the gateway's `code` and `param` ride along."""
    error = body.get("error") or {}
    kind = _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    shaped: dict[str, Any] = {"type": kind, "message": error.get("message", "")}
    for extra in ("code", "param"):
        if error.get(extra) is not None:
            shaped[extra] = error[extra]
    return {"type": "error", "error": shaped}


def frame(kind: str, data: JsonObject) -> bytes:
    """One server-sent event of the grammar: its `event:` line names the data's type."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data, default=_money) + b"\n\n"


def error_event(body: dict[str, Any]) -> bytes:
    """A failure after the stream started: `event: error`, after which the stream ends."""
    return frame("error", anthropic_error(_status_of_type(body), body))


# The gateway's error types (calcifer.http.errors) → a status whose Anthropic type says the same.
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "insufficient_quota": 402,
    "permission_error": 403,
    "rate_limit_error": 429,
    "timeout_error": 504,
    "server_error": 500,
}


def _status_of_type(body: dict[str, Any]) -> int:
    """A mid-stream error has no status of its own: its type says which it would have had."""
    return _TYPE_STATUS.get(str((body.get("error") or {}).get("type")), 503)


def _money(value: object) -> Any:
    if isinstance(value, Decimal):  # a JSON number written exactly, as the chat path writes it
        return orjson.Fragment(format_usd(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def usage_fields(usage: Usage | None, cost: Decimal | None) -> JsonObject:
    """Anthropic's usage (thinking counted in output, as Anthropic does) plus `cost` in USD."""
    usage = usage or Usage()
    fields: JsonObject = {
        "input_tokens": usage.input_tokens + usage.input_audio_tokens + usage.input_image_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens + usage.cache_write_1h_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.cache_write_1h_tokens:
        fields["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    if searches := usage.tool_calls.get("web_search"):
        fields["server_tool_use"] = {"web_search_requests": searches}
    if cost is not None:
        fields |= chat_wire.cost_fields(cost, usage)
    return fields


def message_id(response_id: str | None) -> str:
    return (
        response_id if response_id and response_id.startswith("msg_") else f"msg_{response_id or 'calcifer'}"
    )


def message_body(chat: JsonObject, model: str, usage: Usage | None, cost: Decimal | None) -> JsonObject:
    """A canonical `chat.completion` as an Anthropic `message`."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[JsonObject] = []
    if message.get("reasoning_content"):
        # No signature: only Anthropic makes them, and the gateway does not invent one.
        content.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _input(function),
            }
        )
    return {
        "id": message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": usage_fields(usage, cost),
    }


def _input(function: JsonObject) -> JsonObject:
    try:
        value = orjson.loads(function.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class EventWriter:
    """Canonical chunks → Anthropic's event grammar: `message_start` and a `ping` first, then
    content blocks numbered 0, 1, 2… (thinking, text, tool_use with `input_json_delta`), one
    open at a time; `finish` closes with `message_delta` (stop reason, cumulative usage and
    cost) and `message_stop`."""

    __slots__ = ("_block", "_index", "_model", "_started", "_stop", "_tool")

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._index = -1
        self._block: str | None = None  # the open block's kind
        self._tool: int | None = None  # the canonical index of the open tool call
        self._stop = "end_turn"

    def feed(self, chunk: Chunk) -> list[bytes]:
        frames: list[bytes] = []
        if not self._started:
            frames += self._start(chunk)
        for choice in chunk.data.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # a message is one answer: other choices (n > 1) have no place in it
            delta = choice.get("delta") or {}
            if thinking := delta.get("reasoning_content"):
                frames += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                frames.append(_delta(self._index, {"type": "thinking_delta", "thinking": thinking}))
            if text := delta.get("content"):
                frames += self._open("text", {"type": "text", "text": ""})
                frames.append(_delta(self._index, {"type": "text_delta", "text": text}))
            for call in delta.get("tool_calls") or ():
                frames += self._tool_call(call)
            if reason := choice.get("finish_reason"):
                self._stop = STOP_REASONS.get(reason, "end_turn")
        return frames

    def finish(self, usage: Usage | None, cost: Decimal | None) -> list[bytes]:
        frames = self._close()
        delta = {"stop_reason": self._stop, "stop_sequence": None}
        frames.append(
            frame(
                "message_delta", {"type": "message_delta", "delta": delta, "usage": usage_fields(usage, cost)}
            )
        )
        frames.append(frame("message_stop", {"type": "message_stop"}))
        return frames

    def _start(self, chunk: Chunk) -> list[bytes]:
        self._started = True
        known = chunk.usage_so_far
        message: JsonObject = {
            "id": message_id(chunk.response_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_fields(Usage(input_tokens=known.input_tokens) if known else None, None),
        }
        return [
            frame("message_start", {"type": "message_start", "message": message}),
            frame("ping", {"type": "ping"}),
        ]

    def _tool_call(self, call: JsonObject) -> list[bytes]:
        frames: list[bytes] = []
        function = call.get("function") or {}
        index = call.get("index", 0)
        if self._block != "tool_use" or index != self._tool:
            name = function.get("name")
            block: JsonObject = {"type": "tool_use", "id": call.get("id"), "name": name, "input": {}}
            frames += self._close()
            frames += self._begin("tool_use", block)
            self._tool = index
        if arguments := function.get("arguments"):
            frames.append(_delta(self._index, {"type": "input_json_delta", "partial_json": arguments}))
        return frames

    def _open(self, kind: str, block: JsonObject) -> list[bytes]:
        if self._block == kind:
            return []
        return self._close() + self._begin(kind, block)

    def _begin(self, kind: str, block: JsonObject) -> list[bytes]:
        self._index += 1
        self._block = kind
        return [
            frame(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        ]

    def _close(self) -> list[bytes]:
        if self._block is None:
            return []
        self._block, self._tool = None, None
        return [frame("content_block_stop", {"type": "content_block_stop", "index": self._index})]


def _delta(index: int, delta: JsonObject) -> bytes:
    return frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
