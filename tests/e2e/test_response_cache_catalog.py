"""A model's catalog `cache:` section through the real gateway: it turns caching on for that
model while the config's switch is off, and a hot reload applies a changed section."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import ADMIN, MASTER
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess


def catalog(url: str, four: str = "", mini: str = "") -> str:
    return f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.5, output: 10}}{four}}}
  gpt-4o-mini: {{provider: openai, pricing: {{input: 0.15, output: 0.6}}{mini}}}
"""


CACHED = ", cache: {enabled: true, ttl_seconds: 60}"


@pytest.fixture
def gateway(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER}
    config = "  watch_seconds: 0\ncache:\n  enabled: false\n"  # the gateway's switch is off
    cached_four = catalog(fake_openai.base_url, four=CACHED)
    process = GatewayProcess(tmp_path, cached_four, env=env, config_extra=config)
    yield process.start()
    process.stop()


def twice(gateway: GatewayProcess, model: str) -> list[Any]:
    """The same request twice, with a pause for the first answer's store."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0, timeout=10)
    answers = []
    for _ in range(2):
        create = client.chat.completions.with_raw_response.create
        answers.append(create(model=model, messages=[{"role": "user", "content": "hi"}], temperature=0))
        time.sleep(0.1)
    return answers


def test_a_models_section_turns_caching_on_while_the_config_has_it_off(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    assert [a.headers["x-calcifer-cache"] for a in twice(gateway, "gpt-4o")] == ["miss", "hit"]
    plain = twice(gateway, "gpt-4o-mini")
    assert ["x-calcifer-cache" in answer.headers for answer in plain] == [False, False]
    assert len(fake_openai.received) == 3


def test_a_reloaded_catalog_applies_the_changed_sections(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    (gateway.workdir / "catalog.yaml").write_text(catalog(fake_openai.base_url, mini=CACHED))
    reloaded = httpx.post(gateway.url + "/admin/reload", headers=ADMIN, timeout=10)
    assert reloaded.status_code == 200 and reloaded.json()["reloaded"] is True
    fake_openai.reset()
    assert ["x-calcifer-cache" in answer.headers for answer in twice(gateway, "gpt-4o")] == [False, False]
    assert [a.headers["x-calcifer-cache"] for a in twice(gateway, "gpt-4o-mini")] == ["miss", "hit"]
    assert len(fake_openai.received) == 3
