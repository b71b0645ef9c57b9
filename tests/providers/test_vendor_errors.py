"""Each vendor's real error bodies through the running gateway: what the client sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour, FakeUpstream
from tests.gateway_process import GatewayProcess


def chat(gateway: GatewayProcess, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


def stream_error_code(gateway: GatewayProcess, model: str) -> str:
    """The error code a stream ended with: in its terminal event, or in a plain error answer
    when the error arrived with the first events, before the client was sent anything."""
    response = chat(gateway, model, stream=True)
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["error"]["code"])
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    return str(events[-1]["error"]["code"])


def google_error(status: int, code: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": code, "details": list(details)}}


CASES = [
    pytest.param(
        "gpt-4o",
        400,
        {
            "error": {
                "message": "Input too big.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        },
        (400, "context_length_exceeded"),
        id="openai-context-code",
    ),
    pytest.param(
        "gpt-4o",
        429,
        {
            "error": {
                "message": "You exceeded your current quota",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
        (502, "upstream_unavailable"),
        id="openai-out-of-quota",
    ),
    pytest.param(
        "claude-test",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 215000 tokens > 200000 maximum",
            },
        },
        (400, "context_length_exceeded"),
        id="anthropic-prompt-too-long",
    ),
    pytest.param(
        "claude-test",
        402,
        {"type": "error", "error": {"type": "billing_error", "message": "Your credit balance is too low"}},
        (502, "upstream_unavailable"),
        id="anthropic-billing",
    ),
    pytest.param(
        "claude-test",
        504,
        {"type": "error", "error": {"type": "timeout_error", "message": "Request timed out"}},
        (504, "upstream_timeout"),
        id="anthropic-timeout",
    ),
    pytest.param(
        "gemini-test",
        400,
        google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            },
        ),
        (502, "upstream_auth_failed"),
        id="google-bad-key-sent-as-400",
    ),
    pytest.param(
        "gemini-test",
        400,
        google_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ),
        (400, "context_length_exceeded"),
        id="google-input-too-long",
    ),
    pytest.param(
        "gemini-test",
        400,
        google_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
        (502, "upstream_unavailable"),
        id="google-precondition",
    ),
]


@pytest.mark.parametrize(("model", "status", "body", "expected"), CASES)
def test_vendor_error_bodies_reach_the_client_as_their_table_says(
    gateway: GatewayProcess,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    model: str,
    status: int,
    body: dict[str, Any],
    expected: tuple[int, str],
) -> None:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()
        fake.script(Behaviour(status=status, error_body=body))
    response = chat(gateway, model)
    assert (response.status_code, response.json()["error"]["code"]) == expected


def test_gemini_retry_delay_becomes_retry_after(gateway: GatewayProcess, fake_gemini: FakeGemini) -> None:
    fake_gemini.reset()
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "13s"}
    fake_gemini.script(
        Behaviour(status=429, error_body=google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry))
    )
    response = chat(gateway, "gemini-test")
    assert (response.status_code, response.headers["retry-after"]) == (429, "13")


@pytest.mark.parametrize(
    ("model", "fake_name", "event", "code"),
    [
        (
            "gpt-4o",
            "openai",
            {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
            "rate_limit_exceeded",
        ),
        ("gpt-4o", "openai", {"error": {"message": "The server had an error"}}, "upstream_unavailable"),
        (
            "claude-test",
            "anthropic",
            {"error": {"type": "overloaded_error", "message": "Overloaded"}},
            "upstream_unavailable",
        ),
        (
            "claude-test",
            "anthropic",
            {"error": {"type": "rate_limit_error", "message": "slow"}},
            "rate_limit_exceeded",
        ),
    ],
)
def test_an_error_event_mid_stream_goes_through_the_table(
    gateway: GatewayProcess,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    model: str,
    fake_name: str,
    event: dict[str, Any],
    code: str,
) -> None:
    fake: FakeUpstream = {"openai": fake_openai, "anthropic": fake_anthropic}[fake_name]
    fake.reset()
    fake.script(Behaviour(stream_error=event))
    assert stream_error_code(gateway, model) == code


@pytest.mark.parametrize(
    "answer",
    [
        {"candidates": "not a list"},
        {"candidates": [{"finishReason": 1, "content": {"parts": [{"text": "x"}]}}]},
        {"candidates": [{"content": {"parts": [{"text": 5}]}}]},
    ],
    ids=["candidates-not-a-list", "numeric-finish-reason", "text-not-a-string"],
)
def test_a_gemini_answer_outside_its_format_is_a_bad_response_not_our_error(
    gateway: GatewayProcess, fake_gemini: FakeGemini, answer: dict[str, Any]
) -> None:
    fake_gemini.reset()
    fake_gemini.script(Behaviour(answer=answer))
    response = chat(gateway, "gemini-test")
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_bad_response")


def test_a_gemini_answer_in_its_format_but_new_to_us_is_served(
    gateway: GatewayProcess, fake_gemini: FakeGemini
) -> None:
    # A finish reason the SDK does not know yet, and a part kind the reader does not use:
    # valid Gemini answers, which must neither fail as ours nor be blamed on the provider.
    fake_gemini.reset()
    answer = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "fine"}, {"executableCode": {"language": "PYTHON", "code": "1"}}],
                },
                "finishReason": "SOME_NEW_REASON",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
    }
    fake_gemini.script(Behaviour(answer=answer))
    response = chat(gateway, "gemini-test")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "fine"


def test_client_data_the_gemini_sdk_refuses_is_the_clients_400(
    gateway: GatewayProcess, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reset()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,%%%not-base64"}}
    response = chat(gateway, "gemini-test", messages=[{"role": "user", "content": [image]}])
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_request")
    assert response.json()["error"]["param"] == "messages"
    assert not fake_gemini.received


def breaker_catalog(gemini_url: str) -> str:
    provider = (
        f"    kind: google\n    api_key_env: FAKE_GEMINI_KEY\n    base_url: {gemini_url}\n"
        "    max_retries: 0\n    circuit_breaker: {consecutive_failures: 1, cooldown_seconds: 60}\n"
    )
    return f"""
providers:
  gem-ours:
{provider}  gem-theirs:
{provider}models:
  ours:
    provider: gem-ours
    upstream_model: gemini-ours
    pricing: {{input: 1, output: 1}}
  theirs:
    provider: gem-theirs
    upstream_model: gemini-theirs
    pricing: {{input: 1, output: 1}}
"""


@pytest.fixture
def breaker_gateway(tmp_path: Path, fake_gemini: FakeGemini) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path, breaker_catalog(fake_gemini.base_url), env={"FAKE_GEMINI_KEY": "k"})
    yield process.start()
    process.stop()


def test_our_bug_is_our_500_and_trips_no_breaker_a_bad_answer_is_the_providers(
    breaker_gateway: GatewayProcess, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reset()
    # A function call whose argument our reader cannot encode (an integer beyond 64 bits):
    # valid JSON the SDK reads, that our code fails on. Ours: 500, and the deployment is fine.
    call = {"functionCall": {"name": "f", "args": {"n": 10**30}}}
    ours = {"candidates": [{"content": {"role": "model", "parts": [call]}, "finishReason": "STOP"}]}
    fake_gemini.script_model("gemini-ours", Behaviour(answer=ours))
    failed = chat(breaker_gateway, "ours")
    assert (failed.status_code, failed.json()["error"]["code"]) == (500, "internal_error")
    assert chat(breaker_gateway, "ours").status_code == 200
    # An answer outside Gemini's format is the provider's fault: it opens the breaker.
    fake_gemini.script_model("gemini-theirs", Behaviour(answer={"candidates": [{"finishReason": 1}]}))
    assert chat(breaker_gateway, "theirs").json()["error"]["code"] == "upstream_bad_response"
    assert chat(breaker_gateway, "theirs").json()["error"]["code"] == "deployments_unavailable"
