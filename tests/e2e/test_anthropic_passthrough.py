"""Anthropic Messages to an Anthropic provider, through the real gateway with the official
`anthropic` SDK: the client's body and headers go upstream as sent (model mapped), the
provider's events come back byte for byte, and the request is priced and settled."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.anthropic_frames import SIGNATURE, THINKING, endless_stream, rich_stream
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

HELLO = [{"role": "user", "content": "hello"}]
# claude-test's prices (per million): input 2.50, cached 1.25, cache write 3.125, output 10.
PRICES = {
    "input": Decimal("2.50"),
    "cached": Decimal("1.25"),
    "write": Decimal("3.125"),
    "output": Decimal(10),
}


@pytest.fixture
def fake(fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    fake_anthropic.reset()
    return fake_anthropic


@pytest.fixture
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="client-key", max_retries=0, timeout=10)


def messages_post(gateway: GatewayProcess, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/messages?beta=true", json=body, headers=headers, timeout=10)


def test_a_message_is_forwarded_as_sent_with_the_model_mapped_and_priced_with_cache_buckets(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    usage = {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 40,
        "cache_creation_input_tokens": 8,
    }
    fake.script(Behaviour(usage=usage))
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    raw = client.messages.with_raw_response.create(
        model="claude-test",
        max_tokens=300,
        system=system,  # type: ignore[arg-type]
        messages=HELLO,  # type: ignore[arg-type]
        extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}},
        extra_headers={"anthropic-version": "2023-06-01"},
    )
    message = raw.parse()
    sent = orjson.loads(fake.raw_bodies[-1])
    assert sent["model"] == "claude-sonnet-4-5"
    assert sent["system"] == system and sent["context_management"]["edits"][0]["keep"] == "all"
    assert fake.last.headers["anthropic-version"] == "2023-06-01"  # the client's, not the gateway SDK's
    sent_headers = {name.lower(): value for name, value in fake.last.headers.items()}
    assert sent_headers["authorization"] == f"Bearer {UPSTREAM_KEY}" and "x-api-key" not in sent_headers
    expected = (
        100 * PRICES["input"] + 40 * PRICES["cached"] + 8 * PRICES["write"] + 20 * PRICES["output"]
    ) / 10**6
    assert raw.headers["x-calcifer-cost"] == str(expected)
    assert (
        message.usage.model_extra is not None and Decimal(str(message.usage.model_extra["cost"])) == expected
    )
    assert message.usage.cache_read_input_tokens == 40
    assert message.content[0].type == "text" and message.content[0].text == "Hello from the fake upstream"


def test_a_passed_through_stream_reaches_the_client_byte_for_byte_its_usage_priced(
    gateway: GatewayProcess, fake: FakeAnthropic
) -> None:
    frames = rich_stream()
    fake.script_frames(frames)
    body = {"model": "claude-test", "max_tokens": 2000, "messages": HELLO, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/messages?beta=true", json=body, timeout=10) as response:
        received = b"".join(response.iter_raw())
    assert response.status_code == 200
    delta = next(frame for frame in frames if frame.startswith(b"event: message_delta"))
    before, after = b"".join(frames).split(delta)
    assert received.startswith(before) and received.endswith(after)  # every other frame unchanged
    sent = orjson.loads(delta.split(b"data: ")[1])
    priced = orjson.loads(received[len(before) : -len(after)].split(b"data: ")[1])
    # the cumulative usage (message_start's 100 input, 40 cache reads and 10 writes; 87 output)
    per_million = 100 * PRICES["input"] + 40 * PRICES["cached"] + 10 * PRICES["write"] + 87 * PRICES["output"]
    assert Decimal(str(priced["usage"].pop("cost"))) == per_million / 1_000_000
    assert priced == sent
    assert fake.last.query == {"beta": "true"}


def test_sdk_stream_keeps_thinking_signature_and_server_tools_and_sends_them_back_unchanged(
    client: anthropic.Anthropic, fake: FakeAnthropic, gateway: GatewayProcess
) -> None:
    fake.script_frames(rich_stream())
    with client.messages.stream(model="claude-test", max_tokens=2000, messages=HELLO) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "server_tool_use", "web_search_tool_result", "text", "tool_use"]
    thinking = final.content[0]
    assert thinking.type == "thinking" and (thinking.thinking, thinking.signature) == (THINKING, SIGNATURE)
    tool = final.content[4]
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 87

    history = [
        *HELLO,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sunny"}]},
    ]
    client.messages.create(model="claude-test", max_tokens=2000, messages=history)  # type: ignore[arg-type]
    returned = orjson.loads(fake.raw_bodies[-1])["messages"][1]["content"][0]
    assert returned == {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE}
    time.sleep(0.3)
    # 100 uncached, 40 cache reads, 10 cache writes, 87 output, from message_start and message_delta
    priced = [
        line
        for line in gateway.log().splitlines()
        if '"stream":true' in line and '"route":"/v1/messages"' in line
    ]
    assert any('"prompt_tokens":150' in line and '"completion_tokens":87' in line for line in priced), priced


def test_each_request_reaches_the_provider_with_exactly_its_own_beta_and_version_headers(
    gateway: GatewayProcess, fake: FakeAnthropic
) -> None:
    betas = {
        "one": "interleaved-thinking-2025-05-14",
        "two": "context-management-2025-06-27,effort-2025-11-24",
    }
    fake.script(*(Behaviour(first_byte_delay=0.2) for _ in range(3)))

    def send(name: str) -> None:
        headers = {"anthropic-version": "2023-06-01"}
        if name in betas:
            headers["anthropic-beta"] = betas[name]
        body = {"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": name}]}
        assert messages_post(gateway, body, **headers).status_code == 200

    threads = [threading.Thread(target=send, args=(name,)) for name in ("one", "two", "three")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = {r.body["messages"][0]["content"]: r.headers for r in fake.received}
    assert seen["one"]["anthropic-beta"] == betas["one"]
    assert seen["two"]["anthropic-beta"] == betas["two"]
    assert "anthropic-beta" not in seen["three"]
    assert {headers["anthropic-version"] for headers in seen.values()} == {"2023-06-01"}


def test_an_upstream_error_keeps_its_status_and_message_in_anthropics_shape(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "messages.1: bad block"}}
    fake.script(Behaviour(status=400, error_body=error))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-test", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert (
        body["error"]["type"] == "invalid_request_error"
        and "messages.1: bad block" in body["error"]["message"]
    )


def test_an_error_event_mid_stream_reaches_the_sdk_as_an_error(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    fake.script(Behaviour(stream_error={"error": {"type": "overloaded_error", "message": "Overloaded"}}))
    opened = client.messages.stream(model="claude-test", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    with pytest.raises(anthropic.APIStatusError) as caught, opened as stream:
        stream.get_final_message()
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"


def test_count_tokens_asks_the_anthropic_provider_with_the_clients_body(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    counted = client.messages.count_tokens(model="claude-test", messages=HELLO)  # type: ignore[arg-type]
    assert counted.input_tokens == 4242
    assert fake.last.path == "/v1/messages/count_tokens"
    assert orjson.loads(fake.raw_bodies[-1]) == {"model": "claude-sonnet-4-5", "messages": HELLO}


def test_a_client_that_leaves_mid_stream_closes_the_upstream_and_its_usage_is_settled(
    gateway: GatewayProcess, fake: FakeAnthropic
) -> None:
    fake.script(Behaviour(chunk_delay=0.01))
    fake.script_frames(endless_stream("claude-sonnet-4-5"))
    body = {"model": "claude-test", "max_tokens": 10, "messages": HELLO, "stream": True}
    headers = {"X-Request-Id": "anthropic-leaver"}
    with httpx.stream(
        "POST", gateway.url + "/v1/messages", json=body, headers=headers, timeout=10
    ) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: message_start"
        for _ in range(20):
            next(lines)
    deadline = time.monotonic() + 3
    while not fake.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.disconnects, "the gateway kept reading from the provider after the client left"
    while '"request_id":"anthropic-leaver"' not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in gateway.log().splitlines() if '"request_id":"anthropic-leaver"' in line)
    logged = orjson.loads(line)
    # input from message_start (30); output estimated from the text delivered; priced on both
    assert (logged["status"], logged["prompt_tokens"]) == (499, 30), line
    output = logged["completion_tokens"]
    expected = (30 * PRICES["input"] + output * PRICES["output"]) / 10**6
    assert output > 0 and Decimal(logged["cost"]) == expected
