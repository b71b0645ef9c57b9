"""OpenAI Responses answers: the `response` object and its output items, built from the
canonical chat answer, and the usage both ways."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as chat

__all__ = [
    "ECHOED_FIELDS",
    "FINISHED",
    "function_call_item",
    "message_item",
    "new_id",
    "output_items",
    "reasoning_item",
    "response_object",
    "responses_usage",
    "status_of",
]

JsonObject = dict[str, Any]

ECHOED_FIELDS = ("instructions", "max_output_tokens", "metadata", "previous_response_id", "reasoning",
                 "store", "temperature", "text", "top_p", "truncation", "user")  # fmt: skip
"""Request fields a `response` object repeats back."""

FINISHED = "completed"


def new_id(prefix: str) -> str:
    """An id in OpenAI's style (`resp_…`, `msg_…`, `fc_…`, `rs_…`)."""
    return f"{prefix}_{secrets.token_hex(16)}"


def status_of(finish_reason: str | None) -> tuple[str, JsonObject | None]:
    """The response's status and `incomplete_details` for a chat finish reason."""
    if finish_reason == chat.LENGTH:
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == chat.CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    return FINISHED, None


def response_object(
    response_id: str,
    model: str,
    request: Mapping[str, Any],
    *,
    created_at: int | None = None,
    status: str = "in_progress",
    output: list[JsonObject] | None = None,
) -> JsonObject:
    """A `response`, its request's settings echoed back as OpenAI does."""
    body: JsonObject = {
        "id": response_id,
        "object": "response",
        "created_at": created_at if created_at is not None else int(time.time()),
        "status": status,
        "model": model,
        "output": output or [],
        "tools": request.get("tools") or [],
        "tool_choice": request.get("tool_choice") or "auto",
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "error": None,
        "incomplete_details": None,
        "usage": None,
    }
    for name in ECHOED_FIELDS:
        body[name] = request.get(name)
    if body["store"] is None:
        body["store"] = True
    return body


def message_item(item_id: str, text: str, status: str = FINISHED) -> JsonObject:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def reasoning_item(item_id: str, text: str) -> JsonObject:
    """Reasoning as a summary; no `encrypted_content`: the canonical shape carries no signed
    reasoning a later turn could hand back (docs/dialects.md)."""
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": FINISHED}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, custom: frozenset[str], status: str = FINISHED
) -> JsonObject:
    """A function call, or a free-form (`custom`) tool's call, which the bridge offered as a
    function taking one string `input`."""
    if name in custom:
        return {"id": item_id, "type": "custom_tool_call", "call_id": call_id, "name": name,
                "input": _custom_input(arguments), "status": status}  # fmt: skip
    return {"id": item_id, "type": "function_call", "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}  # fmt: skip


def _custom_input(arguments: str) -> str:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return arguments
    return str(value.get("input", "")) if isinstance(value, dict) else arguments


def output_items(message: Mapping[str, Any], custom: frozenset[str]) -> list[JsonObject]:
    """A chat answer's message as output items: reasoning, text, then each tool call."""
    items: list[JsonObject] = []
    if message.get("reasoning_content"):
        items.append(reasoning_item(new_id("rs"), str(message["reasoning_content"])))
    if message.get("content") or not message.get("tool_calls"):
        items.append(message_item(new_id("msg"), str(message.get("content") or "")))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        items.append(
            function_call_item(
                new_id("fc"),
                str(call.get("id") or new_id("call")),
                str(function.get("name")),
                str(function.get("arguments") or ""),
                custom,
            )
        )
    return items


def responses_usage(usage: Usage, cost: Decimal | None) -> JsonObject:
    """Usage as the Responses API reports it (subsets inside totals), with its cost in USD."""
    body: JsonObject = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }
    if usage.cache_write_tokens:
        body["input_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    if cost is not None:
        body |= chat.cost_fields(cost, usage)
    return body
