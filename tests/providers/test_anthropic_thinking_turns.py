"""A tool loop that continues with thinking asked for: Anthropic refuses a thinking request whose
last assistant turn called tools without its signed thinking block, which a translated
conversation cannot give back (chat has no place for signatures)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from calcifer.domain.chat import ChatRequest
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.provider import UpstreamCall
from calcifer.providers.anthropic.request import messages_request

MODEL = ModelSpec("claude", "anthropic", "claude-x", Price(Decimal(3), Decimal(15)), max_output_tokens=64000)
CALL = {"id": "call_1", "type": "function", "function": {"name": "sh", "arguments": '{"cmd": "ls"}'}}


def body_for(messages: list[dict[str, Any]]) -> dict[str, Any]:
    request = ChatRequest(
        model="claude", body={"model": "claude", "messages": messages, "reasoning_effort": "high"}
    )
    return messages_request(UpstreamCall(request, MODEL), stream=False)


def test_a_new_question_thinks() -> None:
    body = body_for([{"role": "user", "content": "list the files"}])
    assert body["thinking"]["type"] == "enabled"


def test_a_tool_loop_continued_without_the_signed_thinking_block_does_not_ask_for_thinking() -> None:
    body = body_for([
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
    ])  # fmt: skip
    assert "thinking" not in body
    assert body["max_tokens"] == 64000


def test_a_finished_tool_loop_followed_by_a_new_question_thinks_again() -> None:
    body = body_for([
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
        {"role": "assistant", "content": "There is a.txt."},
        {"role": "user", "content": "and now?"},
    ])  # fmt: skip
    assert body["thinking"]["type"] == "enabled"
