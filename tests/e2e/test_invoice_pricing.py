"""Pricing that matches the invoice, through the real gateway over real sockets: every dialect
reports the same cost for the same upstream usage; an estimate is flagged where users look
(body, header, log line, ledger); the tier and the dated price list that priced a request are
recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import ADMIN, MASTER
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

M = Decimal(1_000_000)
HELLO = [{"role": "user", "content": "hello"}]


def _catalog(openai_url: str, anthropic_url: str, gemini_url: str) -> str:
    common = "max_retries: 0\n    circuit_breaker: {consecutive_failures: 1000, min_calls: 1000}"
    # Claude Sonnet 4.5's list (https://platform.claude.com/docs/en/about-claude/pricing): $3 input,
    # $3.75 5m writes, $6 1h writes, $0.30 hits, $15 output per MTok; web search $10 per 1,000.
    return f"""
prices_as_of: "2026-12-01"
providers:
  openai:
    kind: openai
    responses_api: false
    api_key_env: FAKE_OPENAI_KEY
    base_url: {openai_url}
    {common}
  anthropic:
    kind: anthropic
    api_key_env: FAKE_ANTHROPIC_KEY
    base_url: {anthropic_url}
    {common}
  google:
    kind: google
    api_key_env: FAKE_GEMINI_KEY
    base_url: {gemini_url}
    api_version: v1beta
    {common}
models:
  flash:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 0.30, cached_input: 0.03, output: 2.50}}
  sonnet:
    provider: anthropic
    upstream_model: claude-sonnet-4-5
    max_output_tokens: 8000
    pricing:
      input: 3.00
      cached_input: 0.30
      cache_write: 3.75
      cache_write_1h: 6.00
      output: 15.00
      tool_calls: {{web_search: 10.00}}
  o3:
    provider: openai
    pricing:
      input: 2.00
      cached_input: 0.50
      output: 8.00
      service_tiers:
        flex: {{input: 1.00, cached_input: 0.25, output: 4.00}}
  old-sonnet:
    provider: anthropic
    upstream_model: claude-sonnet-4
    deprecated_on: 2020-01-01
    retires_on: 2999-01-01
    replacement: sonnet
    pricing: {{input: 3.00, output: 15.00}}
  gone-sonnet:
    provider: anthropic
    upstream_model: claude-3-5-sonnet
    retires_on: 2020-06-01
    replacement: sonnet
    pricing: {{input: 3.00, output: 15.00}}
  gpt-same:
    provider: openai
    pricing: {{input: 3.00, output: 15.00}}
  flash-same:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 3.00, output: 15.00}}
  dated:
    provider: openai
    pricing:
      - {{input: 9.00, output: 9.00}}
      - {{effective_from: 2020-01-01, input: 2.00, output: 8.00}}
      - {{effective_from: 2999-01-01, input: 100.00, output: 100.00}}
"""


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("invoice")
    keys = {name: UPSTREAM_KEY for name in ("FAKE_OPENAI_KEY", "FAKE_ANTHROPIC_KEY", "FAKE_GEMINI_KEY")}
    catalog = _catalog(fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url)
    process = GatewayProcess(workdir, catalog, env=keys | {"CALCIFER_MASTER_KEY": MASTER}).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini) -> None:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()


def ledger_row(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(gateway.url + "/admin/requests?limit=100", headers=ADMIN).json()["data"]
        if found := [row for row in rows if row["request_id"] == request_id]:
            return dict(found[0])
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} never reached the ledger")


def log_line(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in gateway.log().splitlines():
            if request_id in line and '"route"' in line:
                record: dict[str, Any] = orjson.loads(line)
                return record
        time.sleep(0.1)
    raise AssertionError(f"no log line for {request_id}")


# each dialect's request (Messages is passed through to Anthropic, the others translated)
DIALECTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "sonnet", "messages": HELLO}),
    "seed": ("/v1/completions", {"model": "sonnet", "messages": HELLO}),
    "messages": ("/v1/messages", {"model": "sonnet", "max_tokens": 100, "messages": HELLO}),
    "responses": ("/v1/responses", {"model": "sonnet", "input": "hello", "store": False}),
}
ANTHROPIC_USAGE = {
    # the two defects at once: 100k 1-hour writes and 3 web searches
    "input_tokens": 50,
    "cache_creation_input_tokens": 100_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100_000},
    "output_tokens": 300,
    "server_tool_use": {"web_search_requests": 3},
}
# 50 × $3 + 100,000 × $6 (1h writes) + 300 × $15, per MTok, + 3 × $10 / 1,000 searches
INVOICE = (50 * 3 + 100_000 * 6 + 300 * 15) / M + 3 * Decimal(10) / 1000


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_dialect_reports_the_invoice_cost_for_the_same_upstream_usage(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, dialect: str, streamed: bool
) -> None:
    path, body = DIALECTS[dialect]
    fake_anthropic.script(Behaviour(usage=ANTHROPIC_USAGE))
    if streamed:
        body = {**body, "stream": True} | (
            {"stream_options": {"include_usage": True}} if dialect == "chat" else {}
        )
    answer = httpx.post(gateway.url + path, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert Decimal("0.63465") == INVOICE
    if not streamed:  # each dialect's usage object, and the header
        assert Decimal(str(answer.json()["usage"]["cost"])) == INVOICE
        assert Decimal(answer.headers["x-calcifer-cost"]) == INVOICE
        assert "x-calcifer-cost-estimated" not in answer.headers
    elif dialect == "chat":  # the usage chunk the client asked for
        last = orjson.loads(answer.text.split("data: ")[-2].strip())
        assert Decimal(str(last["usage"]["cost"])) == INVOICE
    request_id = answer.headers["x-request-id"]
    row = ledger_row(gateway, request_id)
    assert Decimal(row["cost_usd"]) == INVOICE and row["cost_estimated"] is False
    assert row["cache_write_tokens"] == 100_000
    assert Decimal(log_line(gateway, request_id)["cost"]) == INVOICE


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_gemini_tool_use_prompt_and_thoughts_are_priced(
    gateway: GatewayProcess, fake_gemini: FakeGemini, streamed: bool
) -> None:
    # https://ai.google.dev/api/generate-content#UsageMetadata: toolUsePromptTokenCount is counted
    # beside promptTokenCount and billed as input; thoughts at the output price (Flash: $0.30 / $2.50)
    usage = {"promptTokenCount": 1000, "toolUsePromptTokenCount": 4000, "candidatesTokenCount": 200}
    fake_gemini.script(Behaviour(usage=usage | {"thoughtsTokenCount": 50, "totalTokenCount": 5250}))
    body = {"model": "flash", "messages": HELLO, "stream": streamed}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    expected = (5000 * Decimal("0.30") + 250 * Decimal("2.50")) / M
    assert Decimal(ledger_row(gateway, answer.headers["x-request-id"])["cost_usd"]) == expected


def test_an_answer_without_usage_is_estimated_and_flagged_everywhere(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    answer_body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "x" * 40}],
        "stop_reason": "end_turn",
    }
    fake_anthropic.script(Behaviour(answer=answer_body))
    prompt = [{"role": "user", "content": "y" * 400}]
    answer = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "sonnet", "messages": prompt})
    assert answer.status_code == 200, answer.text
    # the one estimate every provider uses: four characters a token, prompt and answer
    expected = (100 * 3 + 10 * 15) / M
    usage = answer.json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100, 10)
    assert Decimal(str(usage["cost"])) == expected and usage["cost_details"] == {"estimated": True}
    assert answer.headers["x-calcifer-cost-estimated"] == "true"
    request_id = answer.headers["x-request-id"]
    assert ledger_row(gateway, request_id)["cost_estimated"] is True
    assert log_line(gateway, request_id)["cost_estimated"] is True


ANSWER = "x" * 40
ANSWERS_WITHOUT_USAGE: dict[str, dict[str, Any]] = {
    "sonnet": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
    },
    "gpt-same": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-same",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
        ],
    },
    "flash-same": {
        "candidates": [{"content": {"role": "model", "parts": [{"text": ANSWER}]}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.5-flash",
    },
}


@pytest.mark.parametrize("model", list(ANSWERS_WITHOUT_USAGE))
def test_every_provider_estimates_a_missing_usage_the_same_way(
    gateway: GatewayProcess,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    model: str,
) -> None:
    fakes = {"sonnet": fake_anthropic, "gpt-same": fake_openai, "flash-same": fake_gemini}
    fakes[model].script(Behaviour(answer=ANSWERS_WITHOUT_USAGE[model]))
    prompt = [{"role": "user", "content": "y" * 400}]
    answer = httpx.post(gateway.url + "/v1/chat/completions", json={"model": model, "messages": prompt})
    assert answer.status_code == 200, answer.text
    usage = answer.json()["usage"]
    # 400 prompt and 40 answer characters at four a token, each model at $3 / $15 per MTok
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100, 10)
    assert Decimal(str(usage["cost"])) == (100 * 3 + 10 * 15) / M
    assert usage["cost_details"] == {"estimated": True}
    assert answer.headers["x-calcifer-cost-estimated"] == "true"


def test_the_tier_that_served_the_request_prices_it_and_is_recorded(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "o3",
        "service_tier": "flex",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
    }
    fake_openai.script(Behaviour(answer=completion))
    body = {"model": "o3", "messages": HELLO, "service_tier": "flex"}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    expected = (1000 * 1 + 100 * 4) / M  # the flex list, OpenAI's Batch API rates
    assert Decimal(answer.headers["x-calcifer-cost"]) == expected
    request_id = answer.headers["x-request-id"]
    assert ledger_row(gateway, request_id)["service_tier"] == "flex"
    assert log_line(gateway, request_id)["service_tier"] == "flex"


def test_the_price_list_in_force_at_the_start_prices_and_is_recorded(gateway: GatewayProcess) -> None:
    answer = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "dated", "messages": HELLO})
    assert answer.status_code == 200, answer.text
    # the fake OpenAI reports 12 prompt and 6 completion tokens; the 2020 list is in force
    assert Decimal(answer.headers["x-calcifer-cost"]) == (12 * 2 + 6 * 8) / M
    row = ledger_row(gateway, answer.headers["x-request-id"])
    assert row["price_version"].endswith("@2020-01-01") and row["service_tier"] is None


def test_a_deprecated_model_is_served_with_deprecation_headers_and_one_log_line(
    gateway: GatewayProcess,
) -> None:
    for _ in range(2):
        answer = httpx.post(
            gateway.url + "/v1/chat/completions", json={"model": "old-sonnet", "messages": HELLO}
        )
        assert answer.status_code == 200, answer.text
    assert answer.headers["deprecation"] == "@1577836800"  # 2020-01-01T00:00:00Z, RFC 9745
    assert answer.headers["sunset"] == "Tue, 01 Jan 2999 00:00:00 GMT"  # RFC 8594
    assert answer.headers["link"] == '</v1/models/sonnet>; rel="successor-version"'
    notices = [line for line in gateway.log().splitlines() if "model 'old-sonnet' is deprecated" in line]
    assert len(notices) == 1  # once an hour per model, not once a request


def test_a_retired_model_is_refused_with_410_naming_its_replacement(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    answer = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "gone-sonnet", "messages": HELLO}
    )
    assert answer.status_code == 410
    error = answer.json()["error"]
    assert error["code"] == "model_retired" and error["param"] == "model"
    assert error["message"] == "The model 'gone-sonnet' was retired on 2020-06-01; use 'sonnet' instead"
    assert fake_anthropic.received == []  # refused before any upstream call
    messages = httpx.post(
        gateway.url + "/v1/messages", json={"model": "gone-sonnet", "max_tokens": 5, "messages": HELLO}
    )
    assert messages.status_code == 410 and messages.json()["error"]["type"] == "invalid_request_error"


def test_models_list_the_new_prices_per_token_and_per_call(gateway: GatewayProcess) -> None:
    pricing = httpx.get(gateway.url + "/v1/models/sonnet").json()["pricing"]
    assert pricing == {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
        "input_cache_write_1h": "0.000006",
        "web_search": "0.01",
    }


def test_with_the_operator_switch_a_retired_model_is_served_by_its_replacement(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> None:
    keys = {name: UPSTREAM_KEY for name in ("FAKE_OPENAI_KEY", "FAKE_ANTHROPIC_KEY", "FAKE_GEMINI_KEY")}
    catalog = _catalog(fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url)
    switch = "gateway:\n  route_retired_to_replacement: true\n"
    gateway = GatewayProcess(tmp_path, catalog, env=keys, config_extra=switch).start()
    try:
        answer = httpx.post(
            gateway.url + "/v1/chat/completions", json={"model": "gone-sonnet", "messages": HELLO}
        )
    finally:
        gateway.stop()
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-calcifer-model"] == "sonnet"
    assert fake_anthropic.last.body["model"] == "claude-sonnet-4-5"  # the replacement's upstream id
