"""A provider's `proxy`: every adapter's calls go through it, with its credentials, and answer as usual."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.proxy import FakeProxy
from tests.gateway_process import GatewayProcess

PROXY_PASSWORD = "proxy-pa55-SECRET"


@pytest.fixture(scope="module")
def proxy() -> Iterator[FakeProxy]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeProxy(credentials=f"ops:{PROXY_PASSWORD}")
    asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(timeout=5)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.__aexit__(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def proxied_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: FakeProxy,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> Iterator[GatewayProcess]:
    via = proxy.url(f"ops:{PROXY_PASSWORD}")
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", proxy: "{via}"}}
  anthropic: {{kind: anthropic, api_key_env: KEY, base_url: "{fake_anthropic.base_url}", proxy: "{via}"}}
  google: {{kind: google, api_key_env: KEY, base_url: "{fake_gemini.base_url}", proxy: "{via}"}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 1, output: 1}}}}
  claude-test: {{provider: anthropic, upstream_model: claude-sonnet-4-5, pricing: {{input: 1, output: 1}}}}
  gemini-test: {{provider: google, upstream_model: gemini-2.5-flash, pricing: {{input: 1, output: 1}}}}
"""
    env = {"KEY": "upstream-key"}
    gateway = GatewayProcess(tmp_path_factory.mktemp("proxied"), catalog, env=env).start()
    yield gateway
    gateway.stop()


def test_every_adapter_calls_its_provider_through_the_proxy_with_its_credentials(
    proxied_gateway: GatewayProcess,
    proxy: FakeProxy,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> None:
    for model in ("gpt-4o", "claude-test", "gemini-test"):
        for stream in (False, True):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
            response = httpx.post(proxied_gateway.url + "/v1/chat/completions", json=body, timeout=10)
            assert response.status_code == 200, response.text
            assert ("data: [DONE]" if stream else "Hello from the fake upstream") in response.text
    # The proxy records the first request of each connection it carries.
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        origin = f"POST http://127.0.0.1:{fake.server.port}/"
        assert any(line.startswith(origin) and auth for line, auth in proxy.seen), (origin, proxy.seen)
    assert PROXY_PASSWORD not in proxied_gateway.log()
