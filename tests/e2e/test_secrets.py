"""Upstream error text never carries a known secret out of the gateway, and is kept short."""

from __future__ import annotations

import httpx

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.gateway_process import GatewayProcess

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]
CLIENT = 3  # SpanKind.CLIENT in OTLP
ECHOED = f"your request had Authorization: Bearer {UPSTREAM_KEY} and more: " + "x" * 5000


def test_an_upstream_echoing_the_key_does_not_pass_it_to_client_span_or_log(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    trace_id = "5ec2e75ec2e75ec2e75ec2e75ec2e75e"
    upstream.script(Behaviour(status=400, error_body={"error": {"message": ECHOED}}))
    response = httpx.post(
        gateway.url + CHAT,
        json={"model": "gpt-4o", "messages": HELLO},
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        timeout=10,
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert UPSTREAM_KEY not in response.text
    assert "Bearer [redacted]" in message
    assert len(message) <= 1100
    span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == CLIENT)[0]
    assert UPSTREAM_KEY not in span.status_message and span.status_message
    assert UPSTREAM_KEY not in gateway.log()


def test_a_streamed_error_event_echoing_the_key_does_not_pass_it_on(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(stream_error={"error": {"message": ECHOED, "type": "server_error"}}))
    response = httpx.post(
        gateway.url + CHAT, json={"model": "gpt-4o", "messages": HELLO, "stream": True}, timeout=10
    )
    assert "[redacted]" in response.text
    assert UPSTREAM_KEY not in response.text
    assert UPSTREAM_KEY not in gateway.log()
