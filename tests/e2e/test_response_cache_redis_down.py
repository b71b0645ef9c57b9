"""A Redis that stops while the gateway runs: answers still come, as cache misses, with a
warning in the log and never a 5xx; the cache works again once Redis is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess
from tests.servers.redis_server import RedisServer, start_redis

CONFIG = "cache:\n  enabled: true\n  ttl_seconds: 60\n"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path)  # its own: this test stops it
    yield server
    server.close()


@pytest.fixture
def gateway(tmp_path: Path, fake_openai: FakeOpenAI, redis: RedisServer) -> Iterator[GatewayProcess]:
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.5, output: 10}}}}
"""
    env = {"KEY": UPSTREAM_KEY, "CALCIFER_REDIS_URL": redis.url}
    process = GatewayProcess(tmp_path, catalog, env=env, config_extra=CONFIG)
    yield process.start()
    process.stop()


def ask(gateway: GatewayProcess, stream: bool = False) -> str:
    """One request with the OpenAI SDK (a 5xx raises); returns its `X-Calcifer-Cache`."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0, timeout=10)
    request: Any = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    if stream:
        with client.chat.completions.with_streaming_response.create(**request, stream=True) as response:
            assert "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
            header = response.headers["x-calcifer-cache"]
    else:
        answer = client.chat.completions.with_raw_response.create(**request)
        assert answer.parse().choices[0].message.content
        header = answer.headers["x-calcifer-cache"]
    time.sleep(0.1)  # a miss is stored after its answer is sent
    return str(header)


def test_a_redis_that_stops_turns_lookups_into_misses_never_errors(
    gateway: GatewayProcess, redis: RedisServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    assert [ask(gateway), ask(gateway)] == ["miss", "hit"]
    redis.stop(immediate=True)
    assert [ask(gateway), ask(gateway), ask(gateway, stream=True)] == ["miss", "miss", "miss"]
    assert len(fake_openai.received) == 4  # every answer while Redis is down came from upstream
    assert "response cache lookup failed, served as a miss" in gateway.log()
    redis.start()  # the same data directory: the entry written before the stop is back
    deadline = time.monotonic() + 10
    while ask(gateway) != "hit" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ask(gateway) == "hit"
