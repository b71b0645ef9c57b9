"""Shared fixtures: fake upstreams on loopback and the real gateway in a child process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.gateway_process import GatewayProcess
from tests.servers.fixtures import postgres_server, postgres_url, redis_server, redis_url  # noqa: F401

UPSTREAM_KEY = "sk-test-upstream-SECRET-4242"
COLLECTOR_TOKEN = "otlp-token-SECRET-77"


def gateway_catalog(openai_url: str, anthropic_url: str, gemini_url: str) -> str:
    return f"""
prices_as_of: "2025-11-01"
providers:
  echo:
    kind: echo
  openai:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {openai_url}
    timeout: 2
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  anthropic:
    kind: anthropic
    api_key_env: FAKE_ANTHROPIC_KEY
    base_url: {anthropic_url}
    timeout: 2
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  google:
    kind: google
    api_key_env: FAKE_GEMINI_KEY
    base_url: {gemini_url}
    api_version: v1beta
    timeout: 2
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  openai-retry:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {openai_url}
    timeout: 2
    max_retries: 2
    circuit_breaker: {{consecutive_failures: 1000, min_calls: 1000}}
  azure:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {openai_url.removesuffix("/v1")}
    api_version: "2024-10-21"
    headers: {{X-Team: search}}
    max_retries: 0
  keyless:
    kind: openai
    api_key_env: CALCIFER_TEST_UNSET_KEY
    base_url: {openai_url}
models:
  echo4:
    provider: echo
    pricing: {{input: 50, output: 50}}
  gpt-4o:
    provider: openai
    upstream_model: gpt-4o-upstream
    aliases: [gpt-4o-alias]
    context_window: 128000
    max_output_tokens: 16384
    pricing: {{input: 2.50, cached_input: 1.25, output: 10.00}}
  o3:
    provider: openai
    pricing: {{input: 2.00, cached_input: 0.50, output: 8.00}}
  claude-test:
    provider: anthropic
    upstream_model: claude-sonnet-4-5
    max_output_tokens: 1000
    pricing: {{input: 2.50, cached_input: 1.25, cache_write: 3.125, output: 10.00}}
  gemini-test:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 2.50, cached_input: 1.25, output: 10.00}}
  gpt-retry:
    provider: openai-retry
    upstream_model: gpt-4o
    pricing: {{input: 2.50, output: 10.00}}
  azure-gpt:
    provider: azure
    upstream_model: my-gpt4o-deployment
    pricing: {{input: 2.50, output: 10.00}}
  locked-model:
    provider: keyless
    pricing: {{input: 1, output: 1}}
"""


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def fake_gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    collector: FakeCollector,
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("gateway")
    env = {
        "FAKE_OPENAI_KEY": UPSTREAM_KEY,
        "FAKE_ANTHROPIC_KEY": UPSTREAM_KEY,
        "FAKE_GEMINI_KEY": UPSTREAM_KEY,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.server.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_SERVICE_NAME": "calcifer-under-test",
        "CORS_ALLOWED_ORIGINS": "https://app.example",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{COLLECTOR_TOKEN},x-team=search",
    }
    catalog = gateway_catalog(fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url)
    process = GatewayProcess(workdir, catalog, env=env).start()
    yield process
    process.stop()


@pytest.fixture
def upstream(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The fake OpenAI server, with an empty script and record for this test."""
    fake_openai.reset()
    return fake_openai
