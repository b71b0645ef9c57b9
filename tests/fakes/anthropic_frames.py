"""Event streams an Anthropic provider sends, frame by frame, for pass-through tests: thinking
with its signature, server tools (web search), a tool call streamed as partial JSON, pings and
an event no SDK knows."""

from __future__ import annotations

import json
from typing import Any

SIGNATURE = "EqQBCkYIARgCKkD-signature-only-anthropic-can-check=="
THINKING = "The user wants the weather; I should search first."


def frame(kind: str, data: dict[str, Any], *, spacing: str = " ") -> bytes:
    return f"event: {kind}\ndata:{spacing}{json.dumps({'type': kind, **data})}\n\n".encode()


def message_start(model: str, usage: dict[str, Any] | None = None) -> bytes:
    message = {
        "id": "msg_native1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 40,
                           "cache_creation_input_tokens": 10},
    }  # fmt: skip
    return frame("message_start", {"message": message})


def rich_stream(model: str = "claude-sonnet-4-5") -> list[bytes]:
    """Thinking (signed), a web search, text, a tool call in three JSON pieces, pings, an
    unknown event; cumulative usage at the end. Spacing varies as real servers' does."""
    search = {
        "type": "server_tool_use",
        "id": "srvtoolu_1",
        "name": "web_search",
        "input": {"query": "Paris weather"},
    }
    results = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
               "content": [{"type": "web_search_result", "url": "https://example.com", "title": "Weather",
                            "encrypted_content": "opaque", "page_age": None}]}  # fmt: skip
    tool = {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}
    return [
        message_start(model),
        frame("ping", {}),
        frame(
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        ),
        frame("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": THINKING}}),
        frame(
            "content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}}
        ),
        frame("content_block_stop", {"index": 0}),
        frame("content_block_start", {"index": 1, "content_block": search}),
        frame("content_block_stop", {"index": 1}),
        frame("content_block_start", {"index": 2, "content_block": results}, spacing=""),
        frame("content_block_stop", {"index": 2}),
        b": a comment line the gateway must relay too\n\n",
        frame("content_block_start", {"index": 3, "content_block": {"type": "text", "text": ""}}),
        frame("ping", {}),
        frame("content_block_delta", {"index": 3, "delta": {"type": "text_delta", "text": "Let me check. "}}),
        frame("content_block_stop", {"index": 3}),
        frame("content_block_start", {"index": 4, "content_block": tool}),
        frame(
            "content_block_delta",
            {"index": 4, "delta": {"type": "input_json_delta", "partial_json": '{"city"'}},
        ),
        frame(
            "content_block_delta",
            {"index": 4, "delta": {"type": "input_json_delta", "partial_json": ': "Pa'}},
        ),
        frame(
            "content_block_delta",
            {"index": 4, "delta": {"type": "input_json_delta", "partial_json": 'ris"}'}},
        ),
        frame("content_block_stop", {"index": 4}),
        frame("future_event", {"detail": "an event the SDK does not know"}),
        frame(
            "message_delta",
            {
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"input_tokens": 100, "output_tokens": 87},
            },
        ),
        frame("message_stop", {}),
    ]


def endless_stream(model: str, pieces: int = 100_000) -> list[bytes]:
    """A text answer that goes on (for a client that leaves)."""
    text = {"type": "text", "text": ""}
    head = [
        message_start(model, {"input_tokens": 30, "output_tokens": 1}),
        frame("content_block_start", {"index": 0, "content_block": text}),
    ]
    delta = frame("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "word "}})
    return head + [delta] * pieces
