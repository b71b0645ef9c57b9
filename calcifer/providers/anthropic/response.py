"""A Messages API answer → a chat completion, and Anthropic's usage → ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calcifer.domain.chat import Completion
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.providers.usage_reading import tokens

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
    """Anthropic's usage in our buckets; `UnreadableUsage` when a count is not a count."""
    return Usage(
        input_tokens=tokens(usage, "input_tokens"),
        cache_read_tokens=tokens(usage, "cache_read_input_tokens"),
        cache_write_tokens=tokens(usage, "cache_creation_input_tokens"),
        output_tokens=tokens(usage, "output_tokens"),
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
