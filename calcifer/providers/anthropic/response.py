"""A Messages API answer → a chat completion, and Anthropic's usage → ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calcifer.domain.chat import Completion
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.providers.usage_reading import tokens, tool_calls

__all__ = ["FINISH_REASONS", "answer_characters", "chat_completion", "usage_from_anthropic"]

FINISH_REASONS = {
    "end_turn": wire.STOP,
    "stop_sequence": wire.STOP,
    "pause_turn": wire.STOP,
    "max_tokens": wire.LENGTH,
    "model_context_window_exceeded": wire.LENGTH,
    "tool_use": wire.TOOL_CALLS,
    "refusal": wire.CONTENT_FILTER,
}


def usage_from_anthropic(usage: Mapping[str, Any]) -> Usage:
    """Anthropic's usage in our buckets; `UnreadableUsage` when a count is not a count.

    Its buckets are disjoint already; the cache writes are split by TTL when the report has
    `cache_creation` (the 1-hour ones are billed at 2× input, the 5-minute ones at 1.25×)."""
    hour = tokens(usage, "cache_creation", "ephemeral_1h_input_tokens")
    writes = tokens(usage, "cache_creation_input_tokens") or hour + tokens(
        usage, "cache_creation", "ephemeral_5m_input_tokens"
    )
    tier = usage.get("service_tier")
    return Usage(
        input_tokens=tokens(usage, "input_tokens"),
        cache_read_tokens=tokens(usage, "cache_read_input_tokens"),
        cache_write_tokens=writes - hour,
        cache_write_1h_tokens=hour,
        output_tokens=tokens(usage, "output_tokens"),
        tool_calls=tool_calls(
            web_search=tokens(usage, "server_tool_use", "web_search_requests"),
            web_fetch=tokens(usage, "server_tool_use", "web_fetch_requests"),
        ),
        service_tier=tier if isinstance(tier, str) else None,
    )


def answer_characters(data: dict[str, Any]) -> int:
    """The length of an answer's text, for an estimate of its usage."""
    return sum(len(str(block.get("text", ""))) for block in data["content"] if block.get("type") == "text")


def chat_completion(data: dict[str, Any], usage: Usage) -> Completion:
    text, thinking, tool_calls = [], [], []
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = wire.arguments_text(block.get("input"))
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
    message = wire.assistant_message(text, tool_calls, thinking)
    finish = FINISH_REASONS.get(str(data.get("stop_reason")), wire.STOP)
    return wire.completion(data.get("id"), data.get("model"), message, finish, usage)
