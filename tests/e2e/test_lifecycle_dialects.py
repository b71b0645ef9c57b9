"""A model's lifecycle through every dialect of the real gateway: a retired model is refused
with 410 naming its replacement in the dialect's own error shape, before any upstream call; a
deprecated one is served with the Deprecation, Sunset and Link headers, streamed or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.invoice_setup import HELLO, start_gateway
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> Iterator[GatewayProcess]:
    process = start_gateway(tmp_path_factory.mktemp("lifecycle"), fake_openai, fake_anthropic, fake_gemini)
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini) -> None:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()


def request(dialect: str, model: str) -> tuple[str, dict[str, Any]]:
    """Each dialect's path and smallest body for `model`."""
    return {
        "chat": ("/v1/chat/completions", {"model": model, "messages": HELLO}),
        "seed": ("/v1/completions", {"model": model, "messages": HELLO}),
        "messages": ("/v1/messages", {"model": model, "max_tokens": 100, "messages": HELLO}),
        "responses": ("/v1/responses", {"model": model, "input": "hello", "store": False}),
        "embeddings": ("/v1/embeddings", {"model": model, "input": "hello"}),
    }[dialect]


CHAT_DIALECTS = ["chat", "seed", "messages", "responses"]
DIALECTS = [*CHAT_DIALECTS, "embeddings"]
RETIRED = {"embeddings": ("gone-embed", "embed")} | dict.fromkeys(CHAT_DIALECTS, ("gone-sonnet", "sonnet"))
DEPRECATED = {"embeddings": ("old-embed", "embed")} | dict.fromkeys(CHAT_DIALECTS, ("old-sonnet", "sonnet"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_retired_model_is_a_410_naming_its_replacement_in_the_dialects_error_shape(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, dialect: str
) -> None:
    model, replacement = RETIRED[dialect]
    path, body = request(dialect, model)
    answer = httpx.post(gateway.url + path, json=body, timeout=10)
    assert answer.status_code == 410, answer.text
    message = f"The model '{model}' was retired on 2020-06-01; use '{replacement}' instead"
    shape = answer.json()
    if dialect == "messages":  # Anthropic's shape (its SDK reads `error.type` and `error.message`)
        assert shape["type"] == "error"
    error = shape["error"]
    assert (error["message"], error["type"], error["code"], error["param"]) == (
        message,
        "invalid_request_error",
        "model_retired",
        "model",
    )
    assert fake_openai.received == [] and fake_anthropic.received == []


SERVED = [(dialect, False) for dialect in DIALECTS] + [(dialect, True) for dialect in CHAT_DIALECTS]


@pytest.mark.parametrize(
    ("dialect", "streamed"), SERVED, ids=[f"{d}-{'streamed' if s else 'whole'}" for d, s in SERVED]
)
def test_a_deprecated_model_is_served_with_the_deprecation_headers(
    gateway: GatewayProcess, dialect: str, streamed: bool
) -> None:
    model, replacement = DEPRECATED[dialect]
    path, body = request(dialect, model)
    answer = httpx.post(gateway.url + path, json=body | ({"stream": True} if streamed else {}), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["deprecation"] == "@1577836800"  # 2020-01-01T00:00:00Z, RFC 9745
    assert answer.headers["sunset"] == "Tue, 01 Jan 2999 00:00:00 GMT"  # RFC 8594
    assert answer.headers["link"] == f'</v1/models/{replacement}>; rel="successor-version"'
