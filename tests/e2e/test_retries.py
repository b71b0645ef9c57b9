"""The gateway's one retry policy: transient failures are retried before the first byte, never after."""

from __future__ import annotations

import time

import httpx

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

BODY = {"model": "gpt-retry", "messages": [{"role": "user", "content": "hi"}]}


def post(gateway: GatewayProcess, **extra: object) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json={**BODY, **extra}, timeout=15)


def test_5xx_then_success_is_retried(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=503))
    response = post(gateway)
    assert response.status_code == 200
    assert response.headers["x-calcifer-attempts"] == "2"
    assert len(upstream.received) == 2


def test_retry_after_is_honoured_when_short(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=429, headers={"retry-after-ms": "300"}))
    started = time.monotonic()
    response = post(gateway)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert len(upstream.received) == 2


def test_long_retry_after_is_not_waited_for(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=429, headers={"Retry-After": "60"}))
    started = time.monotonic()
    response = post(gateway)
    assert response.status_code == 429 and response.headers["retry-after"] == "60"
    assert time.monotonic() - started < 5
    assert len(upstream.received) == 1


def test_client_errors_are_not_retried(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=400))
    assert post(gateway).status_code == 400
    assert len(upstream.received) == 1


def test_attempts_run_out_with_the_last_error(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=503), Behaviour(status=500), Behaviour(status=502))
    response = post(gateway)
    assert response.status_code == 502
    assert len(upstream.received) == 3


def test_stream_refused_before_first_byte_is_retried(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(status=503))
    response = post(gateway, stream=True)
    assert response.status_code == 200
    assert response.text.endswith("data: [DONE]\n\n")
    assert len(upstream.received) == 2


def test_stream_cut_after_first_byte_is_never_retried(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script(Behaviour(cut_after_chunks=3))
    response = post(gateway, stream=True)
    assert '"code":"upstream_unavailable"' in response.text
    assert "[DONE]" not in response.text
    assert len(upstream.received) == 1
