"""Upstream error text never carries a known secret out of the gateway, and is kept short."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.gateway_process import ROOT, GatewayProcess

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


def test_a_virtual_key_is_named_by_its_id_in_spans_and_never_appears_in_logs_or_spans(
    tmp_path: Path, collector: FakeCollector
) -> None:
    master = "master-SECRET-spans"
    env = {
        "CALCIFER_MASTER_KEY": master,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.server.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    catalog = (ROOT / "catalog" / "echo.yaml").read_text()
    gateway = GatewayProcess(tmp_path, catalog, env=env, auth_required=True).start()
    try:
        created = httpx.post(
            gateway.url + "/admin/keys",
            json={"name": "traced"},
            headers={"Authorization": f"Bearer {master}"},
        ).json()
        trace_id = "6ec2e75ec2e75ec2e75ec2e75ec2e75e"
        response = httpx.post(
            gateway.url + CHAT,
            json={"model": "echo4", "messages": HELLO},
            headers={
                "Authorization": f"Bearer {created['key']}",
                "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            },
            timeout=10,
        )
        assert response.status_code == 200
        spans = collector.wait_for(lambda s: s.trace_id == trace_id and s.attributes.get("calcifer.key.id"))
        assert spans[0].attributes["calcifer.key.id"] == created["id"]
        everything = repr([(s.name, s.attributes, s.status_message) for s in collector.spans])
        assert created["key"] not in everything and created["key"] not in gateway.log()
        assert master not in everything and master not in gateway.log()
    finally:
        gateway.stop()
