"""The transport settings as a gateway user meets them: connections capped under load, the
aiohttp transport serving, caps and pool waits answered as errors, nothing sent twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

CHAT = "/v1/chat/completions"


Fakes = tuple[FakeOpenAI, FakeAnthropic, FakeGemini]
MASTER_KEY = "transport-master-key"


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    servers = FakeOpenAI(), FakeAnthropic(), FakeGemini()
    for fake in servers:
        fake.server.start()
    yield servers
    for fake in servers:
        fake.server.stop()


@pytest.fixture
def upstream(fakes: Fakes) -> FakeOpenAI:
    fakes[0].reset()
    return fakes[0]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fakes: Fakes) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("transport"),
        catalog(*(fake.base_url for fake in fakes)),
        env={"KEY": "k", "CALCIFER_MASTER_KEY": MASTER_KEY},
        config_extra="  watch_seconds: 0\n",
    ).start()
    yield process
    process.stop()


def catalog(openai: str, anthropic: str, gemini: str, plain_price: int = 1) -> str:
    common = (
        "api_key_env: KEY, max_retries: 0, circuit_breaker: {consecutive_failures: 1000, min_calls: 1000}"
    )
    return f"""
providers:
  capped: {{kind: openai, base_url: "{openai}", max_connections: 10, timeout: 20, {common}}}
  library: {{kind: openai, base_url: "{openai}", transport: aiohttp, {common}}}
  library-claude: {{kind: anthropic, base_url: "{anthropic}", transport: aiohttp, {common}}}
  small: {{kind: openai, base_url: "{openai}", max_response_bytes: 2048, max_event_bytes: 1024, {common}}}
  single: {{kind: openai, base_url: "{openai}", max_connections: 1, timeout: 0.5, {common}}}
  plain: {{kind: openai, base_url: "{openai}", {common}}}
  busy:
    {{kind: openai, base_url: "{openai}", api_key_env: KEY, max_connections: 1, timeout: 0.5, max_retries: 2,
      circuit_breaker: {{consecutive_failures: 1}}}}
  gemini: {{kind: google, base_url: "{gemini}", max_connections: 3, {common}}}
models:
  gpt-capped: {{provider: capped, pricing: {{input: 1, output: 1}}}}
  gpt-library: {{provider: library, pricing: {{input: 1, output: 1}}}}
  claude-library:
    {{provider: library-claude, upstream_model: claude-sonnet-4-5, pricing: {{input: 1, output: 1}}}}
  gpt-small: {{provider: small, pricing: {{input: 1, output: 1}}}}
  gpt-single: {{provider: single, pricing: {{input: 1, output: 1}}}}
  gpt-plain: {{provider: plain, pricing: {{input: {plain_price}, output: 1}}}}
  gpt-busy: {{provider: busy, pricing: {{input: 1, output: 1}}}}
  gemini-capped: {{provider: gemini, upstream_model: gemini-2.5-flash, pricing: {{input: 1, output: 1}}}}
"""


def body(model: str, stream: bool = False) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}


def chat(gateway: GatewayProcess, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(gateway.url + CHAT, json=body(model, stream), timeout=10)


def test_300_concurrent_requests_share_at_most_max_connections_upstream_connections(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(*(Behaviour(first_byte_delay=0.02) for _ in range(300)))

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60, limits=limits) as client:
            answers = await asyncio.gather(*(client.post(CHAT, json=body("gpt-capped")) for _ in range(300)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(burst()) == [200] * 300
    peers = {received.peer for received in upstream.received}
    assert len(upstream.received) == 300
    assert 1 <= len(peers) <= 10, len(peers)


@pytest.mark.parametrize("model", ["gpt-library", "claude-library"])
def test_a_provider_on_the_aiohttp_transport_serves_completions_and_streams(
    gateway: GatewayProcess, model: str
) -> None:
    completion = chat(gateway, model)
    assert completion.status_code == 200, completion.text
    assert completion.json()["choices"][0]["message"]["content"] == "Hello from the fake upstream"
    stream = chat(gateway, model, stream=True)
    assert stream.status_code == 200, stream.text
    assert "upstream" in stream.text and stream.text.rstrip().endswith("data: [DONE]")


def test_an_answer_over_the_response_cap_is_a_502_bad_response(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(text="word " * 1000))
    response = chat(gateway, "gpt-small")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_bad_response"
    upstream.script(Behaviour(text="short"))
    assert chat(gateway, "gpt-small").status_code == 200


def test_a_stream_event_over_the_event_cap_ends_the_stream_as_a_bad_response(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(text="x" * 3000))  # one word: one event of about 3 KB
    response = chat(gateway, "gpt-small", stream=True)
    assert "upstream_bad_response" in response.text
    assert "x" * 3000 not in response.text


def test_a_request_that_waits_too_long_for_a_connection_is_a_504(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    # A slow stream holds the provider's one connection; a second request cannot get it in time.
    upstream.script(Behaviour(text="a b c d e f g h", chunk_delay=0.2), Behaviour())

    with ThreadPoolExecutor(1) as background:
        holding = background.submit(chat, gateway, "gpt-single", True)
        time.sleep(0.3)
        started = time.monotonic()
        waiter = chat(gateway, "gpt-single")
        waited = time.monotonic() - started
        holder = holding.result()
    assert holder.status_code == 200 and holder.text.rstrip().endswith("data: [DONE]")
    assert waiter.status_code == 504, waiter.text
    assert waiter.json()["error"]["code"] == "upstream_timeout"
    assert waited < 1.5
    assert len(upstream.received) == 1  # the second request never reached the provider


def test_waiting_for_our_own_connection_cap_neither_retries_nor_opens_the_breaker(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    # The provider is healthy; the gateway's own max_connections kept the request waiting.
    upstream.script(Behaviour(text="a b c d e f g h", chunk_delay=0.2), Behaviour())

    with ThreadPoolExecutor(1) as background:
        holding = background.submit(chat, gateway, "gpt-busy", True)
        time.sleep(0.3)
        started = time.monotonic()
        waiter = chat(gateway, "gpt-busy")
        waited = time.monotonic() - started
        assert holding.result().status_code == 200
    assert waiter.status_code == 504 and waiter.json()["error"]["code"] == "upstream_timeout"
    assert "max_connections" in waiter.json()["error"]["message"]
    assert waited < 1.0  # one wait, not one per retry
    detail = gateway.health_detail()
    breaker = next(d["breaker"] for d in detail["deployments"] if d["provider"] == "busy")
    assert breaker == "closed"
    assert chat(gateway, "gpt-busy").status_code == 200  # served at once once the connection is free


def test_a_provider_that_drops_the_connection_after_reading_gets_the_request_once(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(Behaviour(), Behaviour(hang_up=True), Behaviour())
    assert chat(gateway, "gpt-plain").status_code == 200  # a kept connection, warm
    dropped = chat(gateway, "gpt-plain")
    assert dropped.status_code == 502
    assert dropped.json()["error"]["code"] == "upstream_unavailable"
    assert len(upstream.received) == 2  # not re-sent: the provider may have started (and billed) it
    assert chat(gateway, "gpt-plain").status_code == 200


def test_the_google_sdks_session_is_capped_at_max_connections(gateway: GatewayProcess, fakes: Fakes) -> None:
    gemini = fakes[2]
    gemini.reset()
    gemini.script(*(Behaviour(first_byte_delay=0.05) for _ in range(30)))
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda _: chat(gateway, "gemini-capped").status_code, range(30)))
    assert answers == [200] * 30
    assert 1 <= len({received.peer for received in gemini.received}) <= 3


def test_a_price_only_reload_keeps_the_warm_upstream_connection(
    gateway: GatewayProcess, upstream: FakeOpenAI, fakes: Fakes
) -> None:
    assert chat(gateway, "gpt-plain").status_code == 200
    (gateway.workdir / "catalog.yaml").write_text(catalog(*(f.base_url for f in fakes), plain_price=2))
    reloaded = httpx.post(
        gateway.url + "/admin/reload", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    )
    assert reloaded.json()["reloaded"] is True, reloaded.text
    assert chat(gateway, "gpt-plain").status_code == 200
    first, second = upstream.received
    assert first.peer == second.peer  # the same connection, though every adapter was rebuilt
