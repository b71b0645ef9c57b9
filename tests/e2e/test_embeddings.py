"""`POST /v1/embeddings` through the real gateway with the official `openai` SDK: to the fake
OpenAI and Gemini servers and to echo, priced, recorded, limited, retried and refused like chat."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.access_setup import MASTER, admin, new_key
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.embeddings_upstream import fake_vector
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.gateway_process import GatewayProcess

KEY = "sk-test-upstream-SECRET-4242"
_STEADY = "circuit_breaker: {consecutive_failures: 1000, min_calls: 1000}"


def _catalog(openai_url: str, gemini_url: str, anthropic_url: str) -> str:
    def provider(kind: str, url: str, retries: int = 0) -> str:
        settings = f"api_key_env: FAKE_KEY, base_url: {url}, timeout: 2, max_retries: {retries}"
        return f"{{kind: {kind}, {settings}, {_STEADY}}}"

    return f"""
prices_as_of: "2026-12-01"
providers:
  echo: {{kind: echo}}
  openai: {provider("openai", openai_url)}
  openai-retry: {provider("openai", openai_url, retries=1)}
  google: {provider("google", gemini_url)}
  anthropic: {provider("anthropic", anthropic_url)}
  azure:
    kind: openai
    api_key_env: FAKE_KEY
    base_url: {openai_url.removesuffix("/v1")}
    api_version: "2024-10-21"
models:
  echo4: {{provider: echo, pricing: {{input: 50, output: 50}}}}
  echo-embed: {{provider: echo, mode: embedding, pricing: {{input: 50}}}}
  small:
    provider: openai
    upstream_model: text-embedding-3-small
    mode: embedding
    aliases: [small-alias]
    pricing: {{input: 0.02}}
  gemini-embed:
    provider: google
    upstream_model: gemini-embedding-001
    mode: embedding
    pricing: {{input: 0.15}}
  azure-embed:
    provider: azure
    upstream_model: my-embedding-deployment
    mode: embedding
    pricing: {{input: 1}}
  claude-embed: {{provider: anthropic, mode: embedding, pricing: {{input: 1}}}}
  embed-retry: {{provider: openai-retry, upstream_model: emb-retry, mode: embedding, pricing: {{input: 1}}}}
  embed-down:
    provider: openai
    upstream_model: emb-down
    mode: embedding
    fallbacks: [echo-embed]
    pricing: {{input: 1}}
"""


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
    collector: FakeCollector,
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("embeddings")
    catalog = _catalog(fake_openai.base_url, fake_gemini.base_url, fake_anthropic.base_url)
    env = {
        "CALCIFER_MASTER_KEY": MASTER,
        "FAKE_KEY": KEY,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.server.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    process = GatewayProcess(workdir, catalog, env=env, auth_required=True).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def key(gateway: GatewayProcess) -> dict[str, Any]:
    return new_key(gateway)


@pytest.fixture
def client(gateway: GatewayProcess, key: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key["key"], max_retries=0, timeout=10)


@pytest.fixture
def openai_fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    return fake_openai


@pytest.fixture
def gemini_fake(fake_gemini: FakeGemini) -> FakeGemini:
    fake_gemini.reset()
    return fake_gemini


def post(gateway: GatewayProcess, key: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key['key']}"}
    return httpx.post(gateway.url + "/v1/embeddings", json=body, headers=headers, timeout=10)


def ledger_record(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    """The request's ledger row, once the writer has stored it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = admin(gateway, "GET", "/admin/requests?limit=100").json()["data"]
        found = [row for row in rows if row["request_id"] == request_id]
        if found:
            return dict(found[0])
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} never reached the ledger")


def test_a_plain_sdk_call_gets_openai_vectors_priced_and_recorded(
    gateway: GatewayProcess, client: openai.OpenAI, openai_fake: FakeOpenAI
) -> None:
    raw = client.embeddings.with_raw_response.create(model="small-alias", input="hello there world")
    answer = raw.parse()
    sent = openai_fake.last.body
    # the SDK asked for base64 (it always does when its caller names no encoding) and decoded it
    assert sent == {
        "model": "text-embedding-3-small",
        "input": "hello there world",
        "encoding_format": "base64",
    }
    assert [item.embedding for item in answer.data] == [fake_vector("hello there world", 0)]
    assert answer.usage.prompt_tokens == 3 and answer.model == "text-embedding-3-small"
    expected = 3 * Decimal("0.02") / 1_000_000
    assert (
        raw.headers["x-calcifer-cost"] == "0.00000006" and Decimal(raw.headers["x-calcifer-cost"]) == expected
    )
    assert Decimal(str(answer.usage.model_extra["cost"])) == expected  # type: ignore[index]
    assert raw.headers["x-calcifer-model"] == "small" and raw.headers["x-calcifer-provider"] == "openai"
    row = ledger_record(gateway, raw.headers["x-request-id"])
    assert (row["route"], row["requested_model"], row["served_model"]) == (
        "embeddings",
        "small-alias",
        "small",
    )
    assert Decimal(row["cost_usd"]) == expected and row["input_tokens"] == 3 and row["output_tokens"] == 0
    assert row["cost_estimated"] is False and row["status"] == 200


def test_the_upstream_call_is_an_embeddings_span(
    client: openai.OpenAI, openai_fake: FakeOpenAI, collector: FakeCollector
) -> None:
    client.embeddings.create(model="small", input="one two three four")
    trace_id = openai_fake.last.headers["traceparent"].split("-")[1]
    span = collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == 3)[0]  # CLIENT
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.usage.input_tokens"] == 4
    assert span.attributes["calcifer.cost.usd"] == "0.00000008"


def test_float_encoding_dimensions_and_list_input_reach_openai_and_come_back_in_order(
    client: openai.OpenAI, openai_fake: FakeOpenAI
) -> None:
    answer = client.embeddings.create(
        model="small", input=["one two", "three"], dimensions=4, encoding_format="float", user="u-1"
    )
    sent = openai_fake.last.body
    assert (sent["dimensions"], sent["encoding_format"], sent["user"]) == (4, "float", "u-1")
    assert [item.embedding for item in answer.data] == [
        fake_vector("one two", 0, 4),
        fake_vector("three", 1, 4),
    ]
    assert [item.index for item in answer.data] == [0, 1] and answer.usage.prompt_tokens == 3


def test_azure_gets_the_deployment_path_and_its_api_key(
    client: openai.OpenAI, openai_fake: FakeOpenAI
) -> None:
    answer = client.embeddings.create(model="azure-embed", input="hi", encoding_format="float")
    sent = openai_fake.last
    assert sent.path == "/openai/deployments/my-embedding-deployment/embeddings"
    assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == KEY
    assert answer.data[0].embedding == fake_vector("hi", 0)


def test_x_provider_pins_the_provider(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="echo-embed", input="hi", extra_headers={"X-Provider": "openai"})
    assert caught.value.code == "provider_mismatch"
    pinned = client.embeddings.with_raw_response.create(
        model="echo-embed", input="hi", extra_headers={"X-Provider": "echo"}
    )
    assert pinned.headers["x-calcifer-provider"] == "echo"


def test_token_arrays_are_forwarded_to_openai(client: openai.OpenAI, openai_fake: FakeOpenAI) -> None:
    answer = client.embeddings.create(model="small", input=[[1, 2, 3], [4, 5]], encoding_format="float")
    assert openai_fake.last.body["input"] == [[1, 2, 3], [4, 5]]
    assert [item.embedding for item in answer.data] == [fake_vector([1, 2, 3], 0), fake_vector([4, 5], 1)]


def test_gemini_floats_are_encoded_as_base64_for_the_sdk_and_priced_on_an_estimate(
    gateway: GatewayProcess, client: openai.OpenAI, gemini_fake: FakeGemini
) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="gemini-embed", input=["a cat", "sat on the mat"], dimensions=5
    )
    answer = raw.parse()
    sent = gemini_fake.last
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert [request["outputDimensionality"] for request in sent.body["requests"]] == [5, 5]
    assert sent.headers["x-goog-api-key"] == KEY
    assert [item.embedding for item in answer.data] == [
        fake_vector("a cat", 0, 5),
        fake_vector("sat on the mat", 1, 5),
    ]
    # Gemini reports no token counts for embeddings: four characters a token, flagged
    tokens = math.ceil(len("a cat") / 4) + math.ceil(len("sat on the mat") / 4)
    expected = tokens * Decimal("0.15") / 1_000_000
    assert answer.usage.prompt_tokens == tokens and Decimal(raw.headers["x-calcifer-cost"]) == expected
    assert ledger_record(gateway, raw.headers["x-request-id"])["cost_estimated"] is True


def test_gemini_usage_is_priced_exactly_when_reported(client: openai.OpenAI, gemini_fake: FakeGemini) -> None:
    gemini_fake.script(Behaviour(usage={"promptTokenCount": 7, "totalTokenCount": 7}))
    raw = client.embeddings.with_raw_response.create(
        model="gemini-embed", input="hi", encoding_format="float"
    )
    assert raw.parse().data[0].embedding == fake_vector("hi", 0)
    assert Decimal(raw.headers["x-calcifer-cost"]) == 7 * Decimal("0.15") / 1_000_000


def test_gemini_refuses_token_arrays_by_name(client: openai.OpenAI, gemini_fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gemini-embed", input=[[1, 2, 3]])
    assert caught.value.code == "unsupported_feature" and "token arrays" in caught.value.message
    assert gemini_fake.received == []


def test_other_fields_reach_an_openai_compatible_server_but_gemini_refuses_them(
    client: openai.OpenAI, openai_fake: FakeOpenAI, gemini_fake: FakeGemini
) -> None:
    client.embeddings.create(model="small", input="hi", extra_body={"truncate": "END"})
    assert openai_fake.last.body["truncate"] == "END"
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gemini-embed", input="hi", extra_body={"truncate": "END"})
    assert caught.value.code == "unsupported_feature" and "'truncate'" in caught.value.message
    assert gemini_fake.received == []


def test_echo_embeds_offline_deterministically_and_is_priced(
    gateway: GatewayProcess, client: openai.OpenAI
) -> None:
    first = client.embeddings.with_raw_response.create(model="echo-embed", input=["hello world", "bye"])
    again = client.embeddings.create(model="echo-embed", input="hello world", encoding_format="float")
    vectors = [item.embedding for item in first.parse().data]
    assert vectors[0] == pytest.approx(again.data[0].embedding, abs=1e-6)  # base64 is float32
    assert vectors[0] != vectors[1] and len(vectors[0]) == 16
    assert math.isclose(math.fsum(x * x for x in vectors[0]), 1.0, rel_tol=1e-5)
    assert first.parse().usage.prompt_tokens == 3  # words
    assert Decimal(first.headers["x-calcifer-cost"]) == 3 * Decimal(50) / 1_000_000
    assert len(client.embeddings.create(model="echo-embed", input="x", dimensions=3).data[0].embedding) == 3
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="echo-embed", input="x", dimensions=8193)
    assert caught.value.code == "unsupported_feature"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_an_embedding_model_asked_for_chat_is_a_400_naming_its_mode(
    gateway: GatewayProcess, key: dict[str, Any], path: str
) -> None:
    body = {"model": "echo-embed", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key['key']}"}
    response = httpx.post(gateway.url + path, json=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "model"
    assert "embedding model (mode: embedding)" in error["message"]


def test_a_chat_model_asked_for_embeddings_is_a_400_naming_its_mode(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="echo4", input="hi")
    assert caught.value.type == "invalid_request_error"
    assert "chat model (mode: chat)" in caught.value.message


def test_a_provider_without_embeddings_is_a_400_naming_it(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.reset()
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="claude-embed", input="hi")
    assert "provider 'anthropic'" in caught.value.message and "no embeddings API" in caught.value.message
    assert fake_anthropic.received == []


def test_a_failing_attempt_is_retried(
    gateway: GatewayProcess, key: dict[str, Any], openai_fake: FakeOpenAI
) -> None:
    openai_fake.script_model("emb-retry", Behaviour(status=503))
    response = post(gateway, key, {"model": "embed-retry", "input": "hi", "encoding_format": "float"})
    assert response.status_code == 200, response.text
    assert response.headers["x-calcifer-attempts"] == "2" and len(openai_fake.received) == 2
    assert response.json()["data"][0]["embedding"] == fake_vector("hi", 0)


def test_a_failing_model_falls_back_to_another_embedding_model(
    gateway: GatewayProcess, key: dict[str, Any], openai_fake: FakeOpenAI
) -> None:
    openai_fake.script_model("emb-down", Behaviour(status=503))
    response = post(gateway, key, {"model": "embed-down", "input": "hi"})
    assert response.status_code == 200, response.text
    assert (response.headers["x-calcifer-model"], response.headers["x-calcifer-provider"]) == (
        "echo-embed",
        "echo",
    )
    assert len(response.json()["data"][0]["embedding"]) == 16 and len(openai_fake.received) == 1


def test_a_key_limited_to_other_models_gets_a_403(gateway: GatewayProcess) -> None:
    limited = new_key(gateway, models=["echo-embed"])["key"]
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=limited, max_retries=0, timeout=10)
    assert sdk.embeddings.create(model="echo-embed", input="hi").data
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.embeddings.create(model="small", input="hi")
    assert caught.value.code == "model_not_allowed"


def test_a_key_rate_limit_counts_embeddings(gateway: GatewayProcess) -> None:
    limited = new_key(gateway, limits={"rpm": 1})
    assert post(gateway, limited, {"model": "echo-embed", "input": "hi"}).status_code == 200
    refused = post(gateway, limited, {"model": "echo-embed", "input": "hi"})
    assert refused.status_code == 429, refused.text


def test_an_unknown_model_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="hi")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "echo-embed"}, "input"),
        ({"model": "echo-embed", "input": ""}, "input"),
        ({"model": "echo-embed", "input": []}, "input"),
        ({"model": "echo-embed", "input": ["ok", ""]}, "input[1]"),
        ({"model": "echo-embed", "input": ["x"] * 2049}, "input"),
        ({"model": "echo-embed", "input": ["text", [1, 2]]}, "input"),
        ({"model": "echo-embed", "input": {"text": "x"}}, "input"),
        ({"model": "echo-embed", "input": [[1, -2]]}, "input"),
        ({"model": "echo-embed", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "echo-embed", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "echo-embed", "input": "x", "user": 7}, "user"),
        ({"input": "x"}, "model"),
    ],
)
def test_malformed_requests_are_400s_naming_the_field(
    gateway: GatewayProcess, key: dict[str, Any], body: dict[str, Any], param: str
) -> None:
    response = post(gateway, key, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_the_model_list_shows_each_models_mode(client: openai.OpenAI) -> None:
    modes = {model.id: model.model_extra["mode"] for model in client.models.list()}  # type: ignore[index]
    assert modes["echo-embed"] == modes["small"] == "embedding" and modes["echo4"] == "chat"
