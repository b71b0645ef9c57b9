"""Deployments, breakers, fallbacks and timeouts, through a real gateway and fake upstreams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

HELLO = [{"role": "user", "content": "hi"}]


def catalog(url: str) -> str:
    provider = f"    kind: openai\n    api_key_env: FAKE_OPENAI_KEY\n    base_url: {url}\n    timeout: 3\n"
    return f"""
providers:
  echo: {{kind: echo}}
  dep-a:
{provider}    max_retries: 1
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  dep-b:
{provider}    max_retries: 1
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  flaky:
{provider}    max_retries: 0
    circuit_breaker: {{consecutive_failures: 2, cooldown_seconds: 1}}
  dead:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: http://127.0.0.1:1/v1
    max_retries: 1
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  slow:
{provider}    max_retries: 0
    first_byte_timeout: 0.5
    idle_timeout: 0.5
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  endless:
{provider}    max_retries: 0
    max_stream_seconds: 1
  bulky:
{provider}    max_retries: 0
    max_stream_bytes: 4096
models:
  echo4:
    provider: echo
    pricing: {{input: 50, output: 50}}
  ha-model:
    deployments:
      - {{provider: dep-a, upstream_model: a-model, weight: 1}}
      - {{provider: dep-b, upstream_model: b-model, weight: 1}}
    pricing: {{input: 1, output: 1}}
  breaker-model:
    provider: flaky
    upstream_model: flaky-model
    pricing: {{input: 1, output: 1}}
  fallback-model:
    provider: dep-a
    upstream_model: fallback-primary
    fallbacks: [echo4]
    pricing: {{input: 1, output: 1}}
  small-context:
    provider: dep-a
    upstream_model: small-model
    context_window_fallbacks: [echo4]
    pricing: {{input: 1, output: 1}}
  half-dead:
    deployments:
      - {{provider: dead, upstream_model: nowhere}}
      - {{provider: dep-a, upstream_model: alive-model}}
    routing: {{strategy: least_inflight}}
    pricing: {{input: 1, output: 1}}
  slow-model:
    provider: slow
    upstream_model: slow-model
    pricing: {{input: 1, output: 1}}
  endless-model:
    provider: endless
    upstream_model: endless-model
    pricing: {{input: 1, output: 1}}
  bulky-model:
    provider: bulky
    upstream_model: bulky-model
    pricing: {{input: 1, output: 1}}
"""


@pytest.fixture(scope="module")
def resilient(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("resilient")
    env = {"FAKE_OPENAI_KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": "calcifer-master-resilience"}
    process = GatewayProcess(workdir, catalog(fake_openai.base_url), env=env).start()
    yield process
    process.stop()


def post(gateway: GatewayProcess, model: str, **extra: object) -> httpx.Response:
    headers = extra.pop("headers", None)
    body = {"model": model, "messages": HELLO, **extra}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=15)  # type: ignore[arg-type]


def test_a_failed_deployment_is_retried_on_the_other_one_at_once(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    for model in ("a-model", "b-model"):
        upstream.script_model(model, Behaviour(status=503))
    started = time.monotonic()
    response = post(resilient, "ha-model")
    # both deployments failed once; the retry went to the other one, with no backoff in between
    assert response.status_code == 502
    assert {r.body["model"] for r in upstream.received} == {"a-model", "b-model"}
    assert len(upstream.received) == 2
    assert time.monotonic() - started < 1


def test_load_spreads_over_deployments(resilient: GatewayProcess, upstream: FakeOpenAI) -> None:
    for _ in range(40):
        assert post(resilient, "ha-model").status_code == 200
    counts = {model: len(upstream.received_for(model)) for model in ("a-model", "b-model")}
    assert min(counts.values()) >= 8, counts


def test_breaker_opens_fails_fast_then_lets_a_trial_through(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("flaky-model", Behaviour(status=500), Behaviour(status=500))
    assert post(resilient, "breaker-model").status_code == 502
    assert post(resilient, "breaker-model").status_code == 502
    started = time.monotonic()
    refused = post(resilient, "breaker-model")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "deployments_unavailable"
    assert refused.headers["retry-after"] == "1"
    assert time.monotonic() - started < 0.5
    assert len(upstream.received_for("flaky-model")) == 2  # the open breaker sent nothing upstream
    detail = resilient.health_detail()
    state = next(d for d in detail["deployments"] if d["upstream_model"] == "flaky-model")
    assert state["breaker"] == "open"
    time.sleep(1.1)
    assert post(resilient, "breaker-model").status_code == 200  # the half-open trial succeeds
    detail = resilient.health_detail()
    state = next(d for d in detail["deployments"] if d["upstream_model"] == "flaky-model")
    assert state["breaker"] == "closed"
    assert detail["catalog_version"]


def test_exhausted_model_falls_back_and_is_priced_by_the_model_that_served(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("fallback-primary", Behaviour(status=503), Behaviour(status=503))
    response = post(resilient, "fallback-model")
    assert response.status_code == 200
    assert response.headers["x-calcifer-model"] == "echo4"
    assert response.headers["x-calcifer-provider"] == "echo"
    assert response.headers["x-calcifer-attempts"] == "3"
    assert response.headers["x-calcifer-cost"] == "0.0001"  # echo4's price: 1 word in, 1 out, $50/M
    assert response.json()["model"] == "echo4"


def test_stream_falls_back_before_its_first_byte(resilient: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script_model("fallback-primary", Behaviour(status=503), Behaviour(status=503))
    response = post(resilient, "fallback-model", stream=True)
    assert response.status_code == 200
    assert response.headers["x-calcifer-model"] == "echo4"
    assert response.text.endswith("data: [DONE]\n\n")


def test_prompt_too_long_goes_to_the_context_window_fallback(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    too_long = {
        "error": {
            "message": "This model's maximum context length is 8192 tokens",
            "code": "context_length_exceeded",
        }
    }
    upstream.script_model("small-model", Behaviour(status=400, error_body=too_long))
    response = post(resilient, "small-context")
    assert response.status_code == 200
    assert response.headers["x-calcifer-model"] == "echo4"


def test_client_errors_do_not_fall_back(resilient: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script_model(
        "fallback-primary", Behaviour(status=400, error_body={"error": {"message": "bad field"}})
    )
    response = post(resilient, "fallback-model")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "bad field"


def test_first_byte_timeout_is_a_504_before_anything_was_sent(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("slow-model", Behaviour(first_byte_delay=2))
    started = time.monotonic()
    response = post(resilient, "slow-model", stream=True)
    assert response.status_code == 504
    assert time.monotonic() - started < 1.5


def test_idle_gap_ends_a_started_stream_with_an_error_event(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("slow-model", Behaviour(chunk_delay=1.5))
    response = post(resilient, "slow-model", stream=True)
    assert response.status_code == 200
    assert '"code":"upstream_timeout"' in response.text
    assert "[DONE]" not in response.text


def test_request_deadline_header_shortens_the_wait(resilient: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.script_model("a-model", Behaviour(first_byte_delay=2))
    upstream.script_model("b-model", Behaviour(first_byte_delay=2))
    started = time.monotonic()
    response = post(resilient, "ha-model", headers={"X-Calcifer-Timeout-Ms": "300"})
    assert response.status_code == 504
    assert time.monotonic() - started < 1.5


def test_bad_deadline_header_is_a_400(resilient: GatewayProcess) -> None:
    response = post(resilient, "echo4", headers={"X-Calcifer-Timeout-Ms": "soon"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Calcifer-Timeout-Ms"


def test_refused_connection_is_retried_on_the_live_deployment(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    for _ in range(10):
        response = post(resilient, "half-dead")
        assert response.status_code == 200
        assert response.headers["x-calcifer-provider"] == "dep-a"
    assert len(upstream.received_for("alive-model")) == 10


def test_a_never_ending_stream_is_cut_at_its_providers_max_stream_seconds(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("endless-model", Behaviour(endless=True, chunk_delay=0.02))
    started = time.monotonic()
    response = post(resilient, "endless-model", stream=True)
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert response.text.rstrip().splitlines()[-1].startswith('data: {"error"')
    assert '"code":"upstream_timeout"' in response.text


def test_a_stream_over_its_providers_max_stream_bytes_ends_with_an_error_event(
    resilient: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("bulky-model", Behaviour(endless=True, chunk_delay=0.001))
    response = post(resilient, "bulky-model", stream=True)
    assert response.status_code == 200
    assert response.text.rstrip().splitlines()[-1].startswith('data: {"error"')
    assert '"code":"upstream_bad_response"' in response.text
