"""Bad input and failing upstreams: every one ends in a clear OpenAI-style error, never a hang."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]


def post(gateway: GatewayProcess, body: object, path: str = CHAT, **kwargs: object) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, timeout=10, **kwargs)  # type: ignore[arg-type]


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body["error"]) >= {"message", "type", "code"}
    error: dict[str, object] = body["error"]
    return error


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="client-key", max_retries=0, timeout=10)


@pytest.mark.parametrize("path", [CHAT, "/v1/completions"])
def test_malformed_json_is_a_400(gateway: GatewayProcess, path: str) -> None:
    response = httpx.post(
        gateway.url + path,
        content=b'{"model": "echo4", "messages": [',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "not valid JSON" in str(error_of(response)["message"])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": 42, "messages": HELLO}, "model"),
        ({"model": "echo4"}, "messages"),
        ({"model": "echo4", "messages": "hi"}, "messages"),
        ({"model": "echo4", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "echo4", "messages": HELLO, "temperature": "hot"}, "temperature"),
        ({"model": "echo4", "messages": HELLO, "max_tokens": -1}, "max_tokens"),
        ({"model": "echo4", "messages": HELLO, "stream": "yes"}, "stream"),
        ([1, 2, 3], None),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(
    gateway: GatewayProcess, body: object, param: str | None
) -> None:
    response = post(gateway, body)
    assert response.status_code == 400
    assert error_of(response)["param"] == param


def test_seed_api_refuses_unknown_fields(gateway: GatewayProcess) -> None:
    response = post(gateway, {"model": "echo4", "messages": HELLO, "tools": []}, path="/v1/completions")
    assert response.status_code == 400
    assert error_of(response)["param"] == "tools"


def test_unknown_model_is_a_404_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-99", messages=HELLO)  # type: ignore[arg-type]
    assert "gpt-99" in caught.value.message
    assert caught.value.code == "model_not_found"


def test_oversized_body_is_a_413(gateway: GatewayProcess) -> None:
    big = [{"role": "user", "content": "x" * 70_000}]
    response = post(gateway, {"model": "echo4", "messages": big})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert "65536 bytes" in str(error_of(response)["message"])  # the limit, so the client can fit it
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and request_id not in gateway.log():
        time.sleep(0.05)
    lines = [json.loads(line) for line in gateway.log().splitlines() if request_id in line]
    assert any(line.get("status") == 413 and line.get("route") == "/v1/chat/completions" for line in lines), (
        lines
    )


def test_unknown_route_is_a_json_404(gateway: GatewayProcess) -> None:
    response = httpx.get(gateway.url + "/v1/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_provider_without_key_answers_503_and_names_the_variable(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="locked-model", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert "CALCIFER_TEST_UNSET_KEY" in caught.value.message


def test_upstream_429_passes_status_and_retry_after(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=429, headers={"Retry-After": "7"}))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert error_of(response)["type"] == "rate_limit_error"


@pytest.mark.parametrize("status", [400, 404, 422])
def test_upstream_client_errors_keep_status_and_message(
    gateway: GatewayProcess, upstream: FakeOpenAI, status: int
) -> None:
    upstream.script(Behaviour(status=status, error_body={"error": {"message": f"bad thing {status}"}}))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == status
    assert error_of(response)["message"] == f"bad thing {status}"


def test_upstream_auth_failure_is_a_502_that_does_not_blame_the_client(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Behaviour(status=401, error_body={"error": {"message": f"Incorrect API key {UPSTREAM_KEY}"}})
    )
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "upstream_auth_failed"
    assert "openai" in str(error["message"])
    assert UPSTREAM_KEY not in response.text


@pytest.mark.parametrize("status", [500, 503])
def test_upstream_5xx_is_a_502(gateway: GatewayProcess, upstream: FakeOpenAI, status: int) -> None:
    upstream.script(Behaviour(status=status))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_unavailable"


def test_upstream_that_answers_garbage_is_a_502(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(malformed=True))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_bad_response"


def test_slow_upstream_is_a_504_within_the_provider_timeout(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(first_byte_delay=4))
    started = time.monotonic()
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 504
    assert error_of(response)["code"] == "upstream_timeout"
    assert time.monotonic() - started < 3.5  # the test catalog's provider timeout is 2 s


def test_stream_that_fails_before_first_byte_is_a_plain_http_error(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(status=429, headers={"Retry-After": "3"}))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO, "stream": True})
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/json")


def test_stream_cut_mid_way_ends_with_an_error_the_sdk_raises(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(cut_after_chunks=3))
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Hello from"
    assert "openai" in str(caught.value.message)


def test_seed_stream_cut_mid_way_ends_with_an_error_event(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(cut_after_chunks=3))
    response = post(gateway, {"model": "gpt-4o", "messages": HELLO, "stream": True}, path="/v1/completions")
    events = [e for e in response.text.split("\n\n") if e]
    assert events[0] == 'data: {"delta":"Hello","done":false}'
    assert events[-1].startswith("event: error\ndata: ")
    assert '"code":"upstream_unavailable"' in events[-1]


def test_malformed_stream_event_ends_the_stream_with_an_error(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(malformed=True))
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
    assert "not JSON" in caught.value.message


def test_client_disconnect_mid_stream_closes_the_upstream_stream(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(endless=True, chunk_delay=0.02))
    body = {"model": "gpt-4o", "messages": HELLO, "stream": True}
    with httpx.stream("POST", gateway.url + CHAT, json=body, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    deadline = time.monotonic() + 3
    while not upstream.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.disconnects, "the gateway kept reading from the upstream after the client left"


def test_no_secret_reaches_logs(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=401, error_body={"error": {"message": f"bad key {UPSTREAM_KEY}"}}))
    post(gateway, {"model": "gpt-4o", "messages": HELLO})
    post(gateway, {"model": "gpt-4o", "messages": HELLO})
    time.sleep(0.2)
    log = gateway.log()
    assert '"route":"/v1/chat/completions"' in log
    assert UPSTREAM_KEY not in log


def test_client_leaving_before_the_answer_is_logged_as_499_not_as_a_gateway_error(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(first_byte_delay=0.5))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            gateway.url + CHAT,
            json={"model": "gpt-4o", "messages": HELLO},
            headers={"X-Request-Id": "leaving-early"},
            timeout=0.1,
        )
    deadline = time.monotonic() + 3
    while '"request_id":"leaving-early"' not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in gateway.log().splitlines() if '"request_id":"leaving-early"' in line]
    logged_by = '"logger":"calcifer.http.hooks.log_line"'
    assert any('"status":499' in line and logged_by in line for line in lines), lines
    assert not any('"level":"ERROR"' in line for line in lines), lines
