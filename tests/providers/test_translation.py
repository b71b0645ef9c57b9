"""Translation details specific to one provider, checked on what its fake server received."""

from __future__ import annotations

import httpx

from calcifer.providers.anthropic import StreamTranslator
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.upstream import Turn
from tests.gateway_process import GatewayProcess


def chat(gateway: GatewayProcess, body: dict[str, object]) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


def test_anthropic_cache_control_passes_through_on_system_and_parts(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.reset()
    marker = {"type": "ephemeral"}
    chat(
        gateway,
        {
            "model": "claude-test",
            "messages": [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "Long policy.", "cache_control": marker}],
                },
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Big document", "cache_control": marker}],
                },
            ],
        },
    )
    body = fake_anthropic.last.body
    assert body["system"] == [{"type": "text", "text": "Long policy.", "cache_control": marker}]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Big document", "cache_control": marker}
    ]
    assert body["max_tokens"] == 1000  # the catalog's max_output_tokens when the client gave none


def test_consecutive_same_role_messages_are_merged_for_anthropic_and_gemini(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
    ]
    for model, fake in (("claude-test", fake_anthropic), ("gemini-test", fake_gemini)):
        fake.reset()
        chat(gateway, {"model": model, "messages": messages})
        assert fake.turns() == [Turn("user", "a b"), Turn("assistant", "c")]


def test_anthropic_tool_choice_and_parallel_flag(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.reset()
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    chat(
        gateway,
        {
            "model": "claude-test",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [tool],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": False,
        },
    )
    body = fake_anthropic.last.body
    assert body["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]


def test_gemini_json_schema_response_format_and_required_tools(
    gateway: GatewayProcess, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reset()
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    chat(
        gateway,
        {
            "model": "gemini-test",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [tool],
            "tool_choice": "required",
            "temperature": 0.3,
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        },
    )
    config = fake_gemini.last.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert config["temperature"] == 0.3
    assert fake_gemini.last.body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_anthropic_parallel_tool_calls_stream_with_their_own_indexes() -> None:
    translator = StreamTranslator("anthropic", "claude")
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "claude", "usage": {"input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t1", "name": "a"},
        },
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "t2", "name": "b"},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"x"'},
        },
    ]
    calls = [
        call
        for event in events
        for chunk in translator.feed(event)
        for call in chunk.data["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert [(c["index"], c.get("id")) for c in calls] == [(0, "t1"), (1, "t2"), (1, None), (0, None)]
    assert calls[2]["function"]["arguments"] == "{}" and calls[3]["function"]["arguments"] == '{"x"'
