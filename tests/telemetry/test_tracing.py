"""Spans reach a real OTLP/HTTP receiver, follow the GenAI conventions and nest correctly."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry import propagate

from calcifer.settings import TelemetrySettings
from calcifer.telemetry.tracing import build_tracer_provider
from tests.conftest import COLLECTOR_TOKEN
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.gateway_process import GatewayProcess

SERVER, CLIENT = 2, 3  # OTLP SpanKind values
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_request_continues_the_callers_trace_and_nests_the_upstream_call(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    upstream.script(
        Behaviour(
            usage={
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 40},
            }
        )
    )
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5},
        headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
    )
    assert response.status_code == 200
    spans = collector.wait_for(lambda s: s.trace_id == TRACE_ID and s.kind == CLIENT)
    assert spans, "no upstream span exported"
    client_span = spans[0]
    server_span = collector.wait_for(lambda s: s.trace_id == TRACE_ID and s.kind == SERVER)[0]
    assert server_span.parent_span_id == CALLER_SPAN
    assert server_span.name == "POST /v1/chat/completions"
    assert server_span.attributes["http.response.status_code"] == 200
    assert client_span.parent_span_id == server_span.span_id
    assert client_span.name == "chat gpt-4o-upstream"
    assert client_span.service_name == "calcifer-under-test"
    attributes = client_span.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-upstream"
    assert attributes["gen_ai.response.model"] == "gpt-4o-upstream-2099-01-01"
    assert attributes["gen_ai.response.id"] == "chatcmpl-fake123"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.usage.input_tokens"] == 100
    assert attributes["gen_ai.usage.output_tokens"] == 10
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.stream"] is False
    assert attributes["calcifer.cost.usd"] == "0.0003"  # (60×2.5 + 40×1.25 + 10×10) / 1M
    sent = upstream.last.headers["traceparent"]
    assert sent == f"00-{TRACE_ID}-{client_span.span_id}-01"


def test_streamed_span_ends_with_the_stream_and_records_first_chunk(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    trace_id = "11111111111111111111111111111111"
    upstream.script(Behaviour(chunk_delay=0.05))
    started = time.monotonic()
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers={"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"},
    )
    elapsed = time.monotonic() - started
    client_span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == CLIENT)[0]
    attributes = client_span.attributes
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert 0 < attributes["gen_ai.response.time_to_first_chunk"] < elapsed
    assert client_span.status_code == 0  # unset: success


def test_cancelled_stream_span_ends_with_error_status(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    trace_id = "22222222222222222222222222222222"
    upstream.script(Behaviour(endless=True, chunk_delay=0.02))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers) as response:
        next(response.iter_lines())
    client_span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == CLIENT)[0]
    assert client_span.status_code == 2  # ERROR
    assert client_span.attributes["error.type"] == "cancelled"


def test_failed_upstream_call_is_an_error_span(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    trace_id = "33333333333333333333333333333333"
    upstream.script(Behaviour(status=503))
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"},
    )
    client_span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == CLIENT)[0]
    server_span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == SERVER)[0]
    assert client_span.status_code == 2
    assert client_span.attributes["error.type"] == "UpstreamUnavailable"
    assert server_span.attributes["http.response.status_code"] == 502
    assert server_span.status_code == 2


@pytest.mark.parametrize(
    ("model", "fake_name"), [("claude-test", "fake_anthropic"), ("gemini-test", "fake_gemini")]
)
def test_each_provider_call_is_exactly_one_client_span_whose_context_goes_upstream(
    gateway: GatewayProcess,
    collector: FakeCollector,
    request: pytest.FixtureRequest,
    model: str,
    fake_name: str,
) -> None:
    fake = request.getfixturevalue(fake_name)
    fake.reset()
    trace_id = (
        "44444444444444444444444444444444" if model == "claude-test" else "55555555555555555555555555555555"
    )
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"},
    )
    client_spans = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == CLIENT)
    time.sleep(0.3)  # let any duplicate arrive too
    spans = [s for s in collector.spans if s.trace_id == trace_id]
    assert sorted(s.kind for s in spans) == [SERVER, CLIENT]
    assert fake.last.headers["traceparent"] == f"00-{trace_id}-{client_spans[0].span_id}-01"
    assert client_spans[0].attributes["gen_ai.provider.name"] in {"anthropic", "gcp.gemini"}


def test_without_an_exporter_spans_are_not_recorded_but_a_callers_sampled_trace_still_flows() -> None:
    provider = build_tracer_provider(TelemetrySettings(traces_exporter="none"))
    tracer = provider.get_tracer("test")
    own = tracer.start_span("alone")
    assert not own.is_recording()
    assert own.get_span_context().is_valid  # an id to hand on, even so
    caller = propagate.extract({"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})
    child = tracer.start_span("continued", context=caller).get_span_context()
    assert (format(child.trace_id, "032x"), child.trace_flags.sampled) == (TRACE_ID, True)


def test_spans_reach_the_collector_with_the_configured_headers_decoded(
    gateway: GatewayProcess, upstream: FakeOpenAI, collector: FakeCollector
) -> None:
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "echo4", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    collector.wait_for(lambda span: span.name.startswith("POST"))
    sent = collector.export_headers[-1]
    assert (sent["authorization"], sent["x-team"]) == (f"Bearer {COLLECTOR_TOKEN}", "search")
    assert COLLECTOR_TOKEN not in gateway.log()


def test_the_console_exporter_prints_finished_spans(capsys: pytest.CaptureFixture[str]) -> None:
    provider = build_tracer_provider(TelemetrySettings(traces_exporter="console"))
    provider.get_tracer("test").start_span("chat console-check").end()
    provider.force_flush()
    assert '"name": "chat console-check"' in capsys.readouterr().out
    provider.shutdown()
