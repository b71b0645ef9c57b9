"""Errors a retry cannot fix carry `x-should-retry: false`, and the OpenAI SDK then does not retry;
errors a retry may fix leave the decision to the client."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]


def test_the_openai_sdk_does_not_retry_a_provider_that_is_not_configured(gateway: GatewayProcess) -> None:
    sent: list[httpx.Request] = []
    http_client = openai.DefaultHttpxClient(event_hooks={"request": [sent.append]})
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key="k", max_retries=3, timeout=10, http_client=http_client
    )
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="locked-model", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "provider_not_configured"
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "locked-model", "messages": HELLO}, "provider_not_configured"),
        ({"model": "gpt-99", "messages": HELLO}, "model_not_found"),
        ({"model": "echo4", "messages": "hi"}, "invalid_request"),
        ({"model": "echo4", "messages": HELLO, "n": 2}, "unsupported_feature"),
    ],
)
def test_errors_a_retry_cannot_fix_say_so(gateway: GatewayProcess, body: object, code: str) -> None:
    response = httpx.post(gateway.url + CHAT, json=body, timeout=10)
    assert response.json()["error"]["code"] == code
    assert response.headers["x-should-retry"] == "false"


def test_an_unknown_route_says_a_retry_will_not_help(gateway: GatewayProcess) -> None:
    response = httpx.get(gateway.url + "/v1/nothing-here", timeout=10)
    assert response.status_code == 404
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("status", [429, 503])
def test_errors_a_retry_may_fix_leave_it_to_the_client(
    gateway: GatewayProcess, upstream: FakeOpenAI, status: int
) -> None:
    upstream.script(Behaviour(status=status))
    response = httpx.post(gateway.url + CHAT, json={"model": "gpt-4o", "messages": HELLO}, timeout=10)
    assert response.status_code == {429: 429, 503: 502}[status]
    assert "x-should-retry" not in response.headers
