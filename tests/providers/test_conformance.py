"""One suite for every provider adapter, through the running gateway, with the official
OpenAI SDK as the client and each provider's fake speaking its real wire format."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import TOOL_NAME, Behaviour, FakeUpstream, Turn
from tests.gateway_process import GatewayProcess

# Every test model is priced at 2.50 in / 10.00 out per 1M; every fake reports 12 in, 6 out.
DEFAULT_COST = (12 * Decimal("2.50") + 6 * Decimal("10.00")) / 1_000_000
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake image").decode()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@dataclass
class Case:
    provider: str
    model: str
    fake: FakeUpstream


@pytest.fixture(params=["openai", "anthropic", "google"])
def case(
    request: pytest.FixtureRequest,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> Case:
    fakes: dict[str, tuple[str, FakeUpstream]] = {
        "openai": ("gpt-4o", fake_openai),
        "anthropic": ("claude-test", fake_anthropic),
        "google": ("gemini-test", fake_gemini),
    }
    model, fake = fakes[request.param]
    fake.reset()
    return Case(request.param, model, fake)


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="client-key", max_retries=0, timeout=10)


def ask(client: openai.OpenAI, case: Case, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", [{"role": "user", "content": "hi"}])
    return client.chat.completions.create(model=case.model, **kwargs)


def test_answer_usage_and_cost(client: openai.OpenAI, case: Case) -> None:
    completion = ask(client, case)
    assert completion.choices[0].message.content == "Hello from the fake upstream"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 6)
    assert Decimal(str(completion.usage.model_extra["cost"])) == DEFAULT_COST


def test_stream_answer_usage_and_cost(client: openai.OpenAI, case: Case) -> None:
    chunks = list(ask(client, case, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake upstream"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.prompt_tokens == 12
    assert Decimal(str(chunks[-1].usage.model_extra["cost"])) == DEFAULT_COST


def test_system_and_developer_prompts_reach_the_provider(client: openai.OpenAI, case: Case) -> None:
    ask(
        client,
        case,
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": "Use metric."},
            {"role": "user", "content": "hi"},
        ],
    )
    assert case.fake.system_prompt() == "Be terse.\n\nUse metric."
    assert case.fake.turns() == [Turn("user", "hi")]


def test_multi_turn_conversation_keeps_its_order(client: openai.OpenAI, case: Case) -> None:
    ask(
        client,
        case,
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
    )
    assert case.fake.turns() == [Turn("user", "a"), Turn("assistant", "b"), Turn("user", "c")]


def test_tool_call_comes_back_as_tool_calls(client: openai.OpenAI, case: Case) -> None:
    case.fake.script(Behaviour(tool_call=True, finish="tool_calls"))
    completion = ask(client, case, tools=[WEATHER_TOOL], tool_choice="auto")
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert (call.function.name, call.function.arguments.replace(" ", "")) == (TOOL_NAME, '{"city":"Paris"}')
    assert call.id


def test_streamed_tool_call_arguments_assemble(client: openai.OpenAI, case: Case) -> None:
    case.fake.script(Behaviour(tool_call=True, finish="tool_calls"))
    names, arguments = [], ""
    for chunk in ask(client, case, tools=[WEATHER_TOOL], stream=True):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            assert call.index == 0
            if call.function.name:
                names.append(call.function.name)
            arguments += call.function.arguments or ""
    assert names == [TOOL_NAME]
    assert arguments.replace(" ", "") == '{"city":"Paris"}'


def test_tool_results_go_back_to_the_provider(client: openai.OpenAI, case: Case) -> None:
    ask(
        client,
        case,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": TOOL_NAME, "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "22C"},
        ],
    )
    answered = TOOL_NAME if case.provider == "google" else "call_1"
    turns = case.fake.turns()
    assert turns[1] == Turn("assistant", f'call {TOOL_NAME}({{"city": "Paris"}})')
    assert turns[2] == Turn("tool" if case.provider == "openai" else "user", f"result({answered})=22C")


def test_image_parts_reach_the_provider(client: openai.OpenAI, case: Case) -> None:
    ask(
        client,
        case,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            }
        ],
    )
    assert case.fake.turns() == [Turn("user", "what is this [image]")]


def test_stop_sequences_and_max_tokens_reach_the_provider(client: openai.OpenAI, case: Case) -> None:
    ask(client, case, stop=["END"], max_tokens=5)
    assert case.fake.stop_sequences() == ["END"]
    assert case.fake.max_tokens() == 5


@pytest.mark.parametrize("finish", ["stop", "length", "tool_calls", "content_filter"])
@pytest.mark.parametrize("stream", [False, True])
def test_each_finish_reason(client: openai.OpenAI, case: Case, finish: str, stream: bool) -> None:
    case.fake.script(Behaviour(finish=finish, tool_call=finish == "tool_calls"))
    kwargs: dict[str, Any] = {"tools": [WEATHER_TOOL]} if finish == "tool_calls" else {}
    if stream:
        chunks = list(ask(client, case, stream=True, **kwargs))
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert reasons == [finish]
    else:
        assert ask(client, case, **kwargs).choices[0].finish_reason == finish


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (400, 400, "upstream_rejected"),
        (401, 502, "upstream_auth_failed"),
        (404, 404, "upstream_rejected"),
        (429, 429, "rate_limit_exceeded"),
        (500, 502, "upstream_unavailable"),
        (529, 502, "upstream_unavailable"),
    ],
)
def test_upstream_errors_map_the_same_for_every_provider(
    gateway: GatewayProcess, case: Case, status: int, expected: int, code: str
) -> None:
    case.fake.script(Behaviour(status=status, headers={"Retry-After": "9"} if status == 429 else {}))
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": case.model, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == expected
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["provider"] == case.provider
    if status == 429:
        assert response.headers["retry-after"] == "9"


def test_client_disconnect_cancels_the_upstream(gateway: GatewayProcess, case: Case) -> None:
    case.fake.script(Behaviour(endless=True, chunk_delay=0.02))
    body = {"model": case.model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=10) as response:
        assert next(response.iter_lines()).startswith("data: ")
    deadline = time.monotonic() + 3
    while not case.fake.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert case.fake.disconnects


def test_seed_api_serves_the_provider_with_cost(gateway: GatewayProcess, case: Case) -> None:
    body = {"model": case.model, "messages": [{"role": "user", "content": "hi"}]}
    result = httpx.post(gateway.url + "/v1/completions", json=body, timeout=10).json()
    assert result["content"] == "Hello from the fake upstream"
    assert result["provider"] == case.provider
    assert Decimal(str(result["usage"]["cost"])) == DEFAULT_COST
    streamed = httpx.post(gateway.url + "/v1/completions", json={**body, "stream": True}, timeout=10).text
    assert '"done":true' in streamed and f'"cost":{DEFAULT_COST}' in streamed


def test_reasoning_is_returned_not_dropped(client: openai.OpenAI, case: Case) -> None:
    if case.provider == "openai":
        pytest.skip("OpenAI does not return reasoning text")
    case.fake.script(Behaviour(reasoning="Let me think."))
    message = ask(client, case).choices[0].message
    assert message.model_extra["reasoning_content"] == "Let me think."
    assert message.content == "Hello from the fake upstream"


@pytest.mark.parametrize(
    ("model", "extra", "lacking"),
    [
        ("echo4", {"tools": [WEATHER_TOOL]}, "tools"),
        (
            "echo4",
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]},
            "vision",
        ),
        ("claude-test", {"n": 2}, "'n' = 2"),
        ("claude-test", {"response_format": {"type": "json_object"}}, "response_format"),
        ("gemini-test", {"logprobs": True}, "logprobs"),
    ],
)
def test_missing_capability_is_a_clear_400(
    gateway: GatewayProcess, model: str, extra: dict[str, Any], lacking: str
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_feature"
    assert lacking in response.json()["error"]["message"]


def test_stream_refused_before_first_byte_is_a_plain_http_error(gateway: GatewayProcess, case: Case) -> None:
    case.fake.script(Behaviour(status=429, headers={"Retry-After": "4"}))
    body = {"model": case.model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "4"
    assert response.headers["content-type"].startswith("application/json")


def test_stream_cut_mid_way_ends_with_an_error_event(client: openai.OpenAI, case: Case) -> None:
    case.fake.script(Behaviour(cut_after_chunks=3))
    with pytest.raises(openai.APIError) as caught:
        list(ask(client, case, stream=True))
    assert case.provider in str(caught.value.message)


MALFORMED_USAGE = {
    "openai": {"prompt_tokens": "abc", "completion_tokens": 6, "completion_tokens_details": []},
    "anthropic": {"input_tokens": "abc", "output_tokens": 6, "cache_read_input_tokens": [1]},
    "google": {"promptTokenCount": "abc", "candidatesTokenCount": 6},
}
ESTIMATED_USAGE = (1, 7)  # "hi" and "Hello from the fake upstream", four characters a token


def test_unreadable_usage_is_priced_on_an_estimate_or_a_proper_error(
    client: openai.OpenAI, case: Case
) -> None:
    case.fake.script(Behaviour(usage=MALFORMED_USAGE[case.provider]))
    if case.provider == "google":  # the SDK refuses the response: a bad answer, not a 500
        with pytest.raises(openai.APIStatusError) as refused:
            ask(client, case)
        assert refused.value.status_code == 502
        return
    completion = ask(client, case)
    assert completion.choices[0].message.content == "Hello from the fake upstream"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == ESTIMATED_USAGE


def test_unreadable_usage_in_a_stream_never_ends_it_silently(gateway: GatewayProcess, case: Case) -> None:
    case.fake.script(Behaviour(usage=MALFORMED_USAGE[case.provider]))
    body = {
        "model": case.model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    if case.provider == "google":  # refused by the SDK: a terminal error event
        assert orjson.loads(events[-1])["error"]["code"] == "upstream_bad_response"
        return
    assert events[-1] == "[DONE]"
    assert "abc" not in response.text  # the unreadable report is not passed on; priced on an estimate
    usages = [orjson.loads(event).get("usage") for event in events[:-1]]
    assert all(usage["prompt_tokens"] > 0 for usage in usages if usage)  # never half a report
