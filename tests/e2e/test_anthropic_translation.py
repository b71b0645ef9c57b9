"""Anthropic Messages to providers that do not speak it (OpenAI chat, Gemini), through the real
gateway with the official `anthropic` SDK: requests translated to the chat shape, answers and
streams written in Anthropic's shape and grammar, what cannot be translated refused by name."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour, FakeUpstream
from tests.gateway_process import GatewayProcess

HELLO: Any = [{"role": "user", "content": "hello"}]
TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "The weather",
        "input_schema": {"type": "object", "properties": {}},
    }
]
# gpt-4o and gemini-test: input 2.50, output 10 per million; the fakes report 12 in, 6 out.
COST = (12 * Decimal("2.50") + 6 * Decimal(10)) / 10**6
CLAUDE_CODE_FIELDS: Any = {
    "thinking": {"type": "adaptive", "display": "omitted"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
    "metadata": {"user_id": '{"device_id":"d1","session_id":"s1"}'},
}


@pytest.fixture
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="client-key", max_retries=0, timeout=10)


@pytest.fixture(params=["gpt-4o", "gemini-test"])
def target(
    request: pytest.FixtureRequest, fake_openai: FakeOpenAI, fake_gemini: FakeGemini
) -> tuple[str, FakeUpstream]:
    fake: FakeUpstream = fake_openai if request.param == "gpt-4o" else fake_gemini
    fake.reset()
    return request.param, fake


@pytest.fixture
def openai_fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    return fake_openai


def test_a_text_answer_is_an_anthropic_message_with_usage_and_cost(
    client: anthropic.Anthropic, target: tuple[str, FakeUpstream]
) -> None:
    model, fake = target
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=100, system="Be brief.", messages=HELLO, stop_sequences=["END"]
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "Hello from the fake upstream"
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "end_turn",
        12,
        6,
    )
    assert message.usage.model_extra is not None and Decimal(str(message.usage.model_extra["cost"])) == COST
    assert raw.headers["x-calcifer-cost"] == str(COST)
    assert fake.system_prompt() == "Be brief." and fake.stop_sequences() == ["END"]
    assert fake.max_tokens() == 100


def test_a_streamed_answer_follows_anthropics_grammar_and_ends_with_usage_and_cost(
    client: anthropic.Anthropic, target: tuple[str, FakeUpstream]
) -> None:
    model, _ = target
    with client.messages.stream(model=model, max_tokens=100, messages=HELLO) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [event.type for event in events if not event.type.endswith(("text", "input_json"))]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 1
    assert final.content[0].type == "text" and final.content[0].text == "Hello from the fake upstream"
    assert (final.stop_reason, final.usage.output_tokens) == ("end_turn", 6)
    delta = next(event for event in events if event.type == "message_delta")
    assert delta.usage.model_extra is not None and Decimal(str(delta.usage.model_extra["cost"])) == COST


@pytest.mark.parametrize("streamed", [False, True])
def test_a_tool_use_loop_round_trips(
    client: anthropic.Anthropic, target: tuple[str, FakeUpstream], streamed: bool
) -> None:
    model, fake = target
    fake.script(Behaviour(tool_call=True, finish="tool_calls"), Behaviour(text="It is sunny"))
    ask: Any = {
        "model": model,
        "max_tokens": 100,
        "messages": HELLO,
        "tools": TOOLS,
        "tool_choice": {"type": "any"},
    }
    if streamed:
        with client.messages.stream(**ask) as stream:
            first = stream.get_final_message()
    else:
        first = client.messages.create(**ask)
    call = first.content[-1]
    assert first.stop_reason == "tool_use"
    assert call.type == "tool_use" and (call.name, call.input) == ("get_weather", {"city": "Paris"})
    history = [
        *HELLO,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = client.messages.create(model=model, max_tokens=100, messages=history, tools=TOOLS)
    assert second.content[0].type == "text" and second.content[0].text == "It is sunny"
    turns = fake.turns()
    assert turns[-1].text.endswith("sunny") and "get_weather" in turns[-2].text


def test_reasoning_comes_back_as_a_thinking_block_without_an_invented_signature(
    client: anthropic.Anthropic, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reset()
    fake_gemini.script(Behaviour(reasoning="deep thought"), Behaviour())
    thinking: Any = {"type": "enabled", "budget_tokens": 10000}
    with client.messages.stream(
        model="gemini-test", max_tokens=20000, messages=HELLO, thinking=thinking
    ) as stream:
        final = stream.get_final_message()
    block = final.content[0]
    assert block.type == "thinking" and (block.thinking, block.signature) == ("deep thought", "")
    assert final.content[1].type == "text"
    assert fake_gemini.last.body["generationConfig"]["thinkingConfig"]  # budget 10,000 → effort high
    # Sent back on the next turn, the thinking block is dropped: only Anthropic can check it.
    history = [*HELLO, {"role": "assistant", "content": [b.model_dump() for b in final.content]}, *HELLO]
    client.messages.create(model="gemini-test", max_tokens=100, messages=history)
    assert "deep thought" not in str(fake_gemini.last.body["contents"])


def test_images_json_output_and_claude_codes_fields_translate_to_openai(
    client: anthropic.Anthropic, openai_fake: FakeOpenAI
) -> None:
    image = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is this?"},
    ]
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    client.messages.create(
        model="gpt-4o",
        max_tokens=100,
        messages=[{"role": "user", "content": image}],
        system=[{"type": "text", "text": "You see.", "cache_control": {"type": "ephemeral"}}],
        extra_body={
            **CLAUDE_CODE_FIELDS,
            "output_config": {"effort": "medium", "format": {"type": "json_schema", "schema": schema}},
        },
    )
    sent = openai_fake.last.body
    parts = sent["messages"][1]["content"]
    assert parts[0]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert parts[1]["image_url"]["url"] == "https://example.com/cat.png"
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert (sent["reasoning_effort"], sent["user"]) == ("medium", CLAUDE_CODE_FIELDS["metadata"]["user_id"])
    assert "context_management" not in sent and "thinking" not in sent and "cache_control" not in str(sent)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"top_k": 5}, "top_k"),
        ({"container": "container_1"}, "container"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {
                                    "type": "base64",
                                    "media_type": "application/pdf",
                                    "data": "JVBER",
                                },
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].source",
        ),
    ],
)
def test_what_the_chat_shape_cannot_say_is_a_400_naming_it(
    client: anthropic.Anthropic, openai_fake: FakeOpenAI, extra: dict[str, Any], named: str
) -> None:
    typed = {name: value for name, value in extra.items() if name in ("messages", "tools")}
    ask: Any = {"model": "gpt-4o", "max_tokens": 100, "messages": HELLO, **typed}
    others = {name: value for name, value in extra.items() if name not in typed}  # not in the SDK's types
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**ask, extra_body=others)
    body: Any = caught.value.body
    assert body["error"]["type"] == "invalid_request_error" and named in body["error"]["message"]
    assert not openai_fake.received


def test_a_failure_mid_stream_is_an_error_event_without_message_stop(
    client: anthropic.Anthropic, gateway: GatewayProcess, openai_fake: FakeOpenAI
) -> None:
    openai_fake.script(Behaviour(stream_error={"error": {"message": "boom", "type": "server_error"}}))
    body = {"model": "gpt-4o", "max_tokens": 10, "messages": HELLO, "stream": True}
    text = httpx.post(gateway.url + "/v1/messages", json=body, timeout=10).text
    assert text.startswith("event: message_start\n") and "event: error\n" in text
    assert "message_stop" not in text
    openai_fake.script(Behaviour(stream_error={"error": {"message": "boom", "type": "server_error"}}))
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="gpt-4o", max_tokens=10, messages=HELLO) as stream,
    ):
        stream.get_final_message()
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "error"


def test_errors_are_in_anthropics_shape_and_raise_the_sdks_classes(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=10, messages=HELLO)
    assert missing.value.body == {
        "type": "error",
        "error": {
            "type": "not_found_error",
            "message": "The model 'no-such-model' does not exist",
            "code": "model_not_found",
            "param": "model",
        },
    }
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="gpt-4o", messages=HELLO, max_tokens=None)  # type: ignore[arg-type]
    assert "max_tokens" in str(bad.value.body)
    with pytest.raises(anthropic.NotFoundError):
        client.post("/v1/messages/nothing-here", cast_to=object, body={})


def test_count_tokens_for_another_vendors_model_is_an_estimate(
    client: anthropic.Anthropic, openai_fake: FakeOpenAI
) -> None:
    text = "a" * 400
    counted = client.messages.count_tokens(
        model="gpt-4o", system="b" * 40, messages=[{"role": "user", "content": text}]
    )
    assert counted.input_tokens == math.ceil(440 / 4)
    assert not openai_fake.received
