"""Streamed pricing through the real gateway: an estimate or a clamped report is flagged where
users look, audio bills at its own prices, and the tier and dated price list that priced a
stream are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.e2e.invoice_setup import HELLO, M, ledger_row, log_line, start_gateway, streamed_usage
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour, FakeUpstream
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> Iterator[GatewayProcess]:
    process = start_gateway(tmp_path_factory.mktemp("streams"), fake_openai, fake_anthropic, fake_gemini)
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini) -> None:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()


NO_USAGE_MODELS: dict[str, str] = {"sonnet": "anthropic", "gpt-same": "openai", "flash-same": "gemini"}


@pytest.mark.parametrize("model", list(NO_USAGE_MODELS))
def test_a_stream_without_usage_is_estimated_the_same_way_and_flagged_everywhere(
    gateway: GatewayProcess,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    model: str,
) -> None:
    fakes: dict[str, FakeUpstream] = {
        "anthropic": fake_anthropic,
        "openai": fake_openai,
        "gemini": fake_gemini,
    }
    fakes[NO_USAGE_MODELS[model]].script(Behaviour(text="x" * 40, report_usage=False))
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "y" * 400}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    usage = streamed_usage("chat", answer.text)
    # 400 prompt and 40 answer characters at four a token; each model at $3 / $15 per MTok
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100, 10)
    assert Decimal(str(usage["cost"])) == (100 * 3 + 10 * 15) / M
    assert usage["cost_details"] == {"estimated": True}
    request_id = answer.headers["x-request-id"]
    assert ledger_row(gateway, request_id)["cost_estimated"] is True
    assert log_line(gateway, request_id)["cost_estimated"] is True


def test_the_tier_a_stream_reports_prices_it_and_is_recorded(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    # asked for nothing, served at flex (OpenAI's chunks carry service_tier): the flex list
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    fake_openai.script(Behaviour(usage=usage, service_tier="flex"))
    body = {"model": "o3", "messages": HELLO, "stream": True}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-request-id"]
    row = ledger_row(gateway, request_id)
    # https://platform.openai.com/docs/guides/flex-processing: flex at Batch API rates, o3 $1 / $4
    assert Decimal(row["cost_usd"]) == (1000 * 1 + 100 * 4) / M
    assert row["service_tier"] == "flex" and log_line(gateway, request_id)["service_tier"] == "flex"


def test_a_stream_is_priced_by_the_list_in_force_at_its_start(gateway: GatewayProcess) -> None:
    body = {"model": "dated", "messages": HELLO, "stream": True}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    row = ledger_row(gateway, answer.headers["x-request-id"])
    # the fake reports 12 prompt and 6 completion tokens; the 2020 list ($2 / $8) is in force
    assert Decimal(row["cost_usd"]) == (12 * 2 + 6 * 8) / M
    assert row["price_version"].endswith("@2020-01-01")


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_openai_audio_tokens_bill_at_the_audio_prices(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "prompt_tokens_details": {"audio_tokens": 800, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 400, "reasoning_tokens": 0},
    }
    fake_openai.script(Behaviour(usage=usage))
    body = {"model": "gpt-audio", "messages": HELLO, "stream": streamed}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    # https://platform.openai.com/docs/pricing, gpt-4o-audio-preview: text $2.50 / $10,
    # audio $40 / $80 per 1M tokens; audio_tokens are parts of prompt_tokens / completion_tokens
    expected = (200 * Decimal("2.50") + 800 * 40 + 100 * 10 + 400 * 80) / M
    assert Decimal(ledger_row(gateway, answer.headers["x-request-id"])["cost_usd"]) == expected


IMPOSSIBLE = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 150}}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_impossible_usage_is_clamped_flagged_and_warned_once_per_provider(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    fake_openai.script(Behaviour(usage=IMPOSSIBLE), Behaviour(usage=IMPOSSIBLE))
    body = {"model": "o3", "messages": HELLO, "stream": streamed, "stream_options": {"include_usage": True}}
    if not streamed:
        del body["stream_options"]
    for _ in range(2):
        answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
    usage = streamed_usage("chat", answer.text) if streamed else answer.json()["usage"]
    # the 100 prompt tokens OpenAI bills are all cached (o3: $0.50 cached, $8 output per MTok)
    assert Decimal(str(usage["cost"])) == (100 * Decimal("0.50") + 10 * 8) / M
    assert usage["cost_details"] == {"clamped": True}
    assert log_line(gateway, answer.headers["x-request-id"])["usage_clamped"] is True
    warnings = [line for line in gateway.log().splitlines() if "impossible usage" in line]
    assert len(warnings) == 1, warnings  # once per provider, whatever the number of requests
