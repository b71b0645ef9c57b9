"""Messages requests → the canonical chat body: what maps, what is dropped as a hint, what is
recorded as untranslatable, what is a 400."""

from __future__ import annotations

from typing import Any

import pytest

from calcifer.errors import InvalidRequest
from calcifer.formats.anthropic_request import translate_messages_request

BASE: dict[str, Any] = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def translate(**fields: Any) -> tuple[dict[str, Any], list[str]]:
    out = translate_messages_request({**BASE, **fields})
    return out.body, [item.param for item in out.untranslatable]


def test_a_tool_turn_becomes_tool_calls_then_tool_messages_before_the_users_text() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "and?"},
            {"type": "tool_result", "tool_use_id": "t1", "is_error": True,
             "content": [{"type": "text", "text": "timeout"}], "cache_control": {"type": "ephemeral"}},
        ]},
    ]  # fmt: skip
    body, untranslatable = translate(messages=messages)
    function = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    call = {"id": "t1", "type": "function", "function": function}
    assert body["messages"][1:] == [
        {"role": "assistant", "content": "Checking.", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": "Error: timeout"},
        {"role": "user", "content": "and?"},
    ]  # fmt: skip
    assert untranslatable == [] and body["max_completion_tokens"] == 50


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}, None),
        ({"type": "none"}, "none", None),
    ],
)
def test_tool_choice_maps_to_chats(choice: Any, expected: Any, parallel: bool | None) -> None:
    body, _ = translate(tools=[{"name": "f", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert body["tool_choice"] == expected and body.get("parallel_tool_calls") == parallel
    assert body["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]


@pytest.mark.parametrize(
    ("thinking", "config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 8192}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 16000}, None, "high"),
        ({"type": "enabled", "budget_tokens": 32000}, None, "xhigh"),
        ({"type": "adaptive", "display": "omitted"}, {"effort": "low"}, "low"),
        ({"type": "adaptive"}, {"effort": "max"}, "xhigh"),
        ({"type": "adaptive"}, None, None),
        ({"type": "disabled"}, {"effort": "high"}, None),
    ],
)
def test_thinking_becomes_a_reasoning_effort(thinking: Any, config: Any, effort: str | None) -> None:
    fields: dict[str, Any] = {"thinking": thinking}
    if config is not None:
        fields["output_config"] = config
    body, untranslatable = translate(**fields)
    assert body.get("reasoning_effort") == effort and untranslatable == []


def test_claude_codes_hints_are_dropped_and_everything_else_unknown_is_untranslatable() -> None:
    body, untranslatable = translate(
        context_management={"edits": []},
        cache_control={"type": "ephemeral"},
        speed="fast",
        metadata={"user_id": "u1"},
        system=[{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
        container="c1",
        mcp_servers=[],
        tools=[
            {"type": "web_search_20250305", "name": "web_search"},
            {"name": "f", "defer_loading": True, "eager_input_streaming": True},
        ],
    )
    assert body["user"] == "u1" and body["messages"][0] == {"role": "system", "content": "S"}
    assert sorted(untranslatable) == ["container", "mcp_servers", "tools[0].type"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "system", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
        ({"thinking": {"type": "enabled"}}, "thinking"),
        ({"stop_sequences": "END"}, "stop_sequences"),
    ],
)
def test_a_malformed_request_is_a_400_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate_messages_request({**BASE, **fields})
    assert caught.value.param == param


def test_a_system_turn_inside_the_messages_stays_a_system_message_where_it_was() -> None:
    """Claude Code puts its environment in a `system` turn after the first user turn (a list of
    text blocks with cache_control on the first turn, a string on later ones)."""
    body, untranslatable = translate(
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "system",
                "content": [{"type": "text", "text": "# Env", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "assistant", "content": "hello"},
            {"role": "system", "content": "# Env again"},
        ]
    )
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "hi"),
        ("system", "# Env"),
        ("assistant", "hello"),
        ("system", "# Env again"),
    ]
    assert untranslatable == []
