"""The OpenAI-compatible API through the real gateway, with the official SDK as client."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import openai
import orjson
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="client-key", max_retries=0, timeout=10)


def test_echo_model_answers_through_the_openai_sdk(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="echo4", messages=[{"role": "user", "content": "Test message"}]
    )
    assert completion.choices[0].message.content == "[user]: Test message"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 2)
    assert completion.usage.model_extra == {"cost": 0.0002}


def test_openai_model_is_forwarded_with_upstream_id_and_priced(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Behaviour(
            usage={
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": {"cached_tokens": 400},
            }
        )
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-alias",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.2,
        seed=7,
        extra_body={"vendor_specific_field": {"x": 1}},
    )
    completion = raw.parse()
    sent = upstream.last.body
    assert sent["model"] == "gpt-4o-upstream"
    assert sent["vendor_specific_field"] == {"x": 1}
    assert sent["temperature"] == 0.2 and sent["seed"] == 7
    # 600 uncached × 2.50 + 400 cached × 1.25 + 200 × 10.00, per million
    expected = (600 * Decimal("2.50") + 400 * Decimal("1.25") + 200 * Decimal("10.00")) / 1_000_000
    assert raw.headers["x-calcifer-cost"] == str(expected)
    assert completion.usage is not None and Decimal(str(completion.usage.model_extra["cost"])) == expected
    assert completion.choices[0].message.content == "Hello from the fake upstream"
    assert raw.headers["x-calcifer-provider"] == "openai"
    assert raw.headers["x-calcifer-model"] == "gpt-4o"


def test_gateway_sends_its_own_key_upstream_not_the_clients(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert upstream.last.headers["Authorization"] == "Bearer sk-test-upstream-SECRET-4242"


def test_stream_with_usage_requested_ends_with_priced_usage_chunk(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake upstream"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 12
    assert Decimal(str(usage.model_extra["cost"])) == (12 * Decimal("2.5") + 6 * Decimal(10)) / 1_000_000


def test_stream_without_usage_requested_still_prices_but_hides_usage_chunk(
    client: openai.OpenAI, upstream: FakeOpenAI, gateway: GatewayProcess
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    )
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert upstream.last.body["stream_options"] == {"include_usage": True}
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_raw_stream_ends_with_done_marker(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"


def test_x_provider_header_restricts_routing(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="echo4",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Provider": "openai"},
        )
    assert caught.value.code == "provider_mismatch"
    ok = client.chat.completions.create(
        model="echo4", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Provider": "echo"}
    )
    assert ok.choices[0].message.content == "[user]: hi"


def test_models_list_carries_provider_and_per_token_pricing(client: openai.OpenAI) -> None:
    models = {model.id: model for model in client.models.list()}
    assert {"echo4", "gpt-4o", "o3"} <= set(models)
    gpt4o = models["gpt-4o"].model_dump()
    assert gpt4o["provider"] == "openai"
    assert gpt4o["pricing"] == {
        "prompt": "0.0000025",
        "completion": "0.00001",
        "input_cache_read": "0.00000125",
        "input_cache_write": "0.0000025",
    }
    assert client.models.retrieve("gpt-4o-alias").id == "gpt-4o"


def test_request_id_is_echoed_or_generated(gateway: GatewayProcess) -> None:
    body = {"model": "echo4", "messages": [{"role": "user", "content": "hi"}]}
    given = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert len(made.headers["x-request-id"]) == 32


def test_echo_respects_max_tokens(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="echo4", messages=[{"role": "user", "content": "one two three four"}], max_tokens=2
    )
    assert completion.choices[0].message.content == "[user]: one two"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 2


def test_echo_refuses_tools_instead_of_dropping_them(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="echo4", messages=[{"role": "user", "content": "hi"}], tools=tools
        )
    assert caught.value.code == "unsupported_feature"
    assert "tools" in str(caught.value.message)


def test_tool_calls_from_upstream_reach_the_client(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(tool_call=True, finish="tool_calls"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "weather?"}], tools=tools, tool_choice="auto"
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert upstream.last.body["tools"] == tools and upstream.last.body["tool_choice"] == "auto"


def test_azure_provider_uses_deployment_path_api_version_and_api_key_header(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    completion = client.chat.completions.create(
        model="azure-gpt", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "Hello from the fake upstream"
    received = upstream.last
    assert received.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
    assert received.query == {"api-version": "2024-10-21"}
    assert received.headers["api-key"] == "sk-test-upstream-SECRET-4242"
    assert {k.lower(): v for k, v in received.headers.items()}["x-team"] == "search"


@pytest.mark.parametrize("stream", [False, True])
def test_gateway_overhead_is_reported_in_header_and_log(
    gateway: GatewayProcess, upstream: FakeOpenAI, stream: bool
) -> None:
    upstream.script(Behaviour(first_byte_delay=0.3))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    overhead = float(response.headers["x-calcifer-overhead-ms"])
    # the upstream's 300 ms wait is not the gateway's time
    assert 0 < overhead < 250
    time.sleep(0.1)
    line = next(line for line in gateway.log().splitlines() if response.headers["x-request-id"] in line)
    assert 0 < orjson.loads(line)["overhead_ms"] < 250
