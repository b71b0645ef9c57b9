"""A Messages request whose Anthropic model fails falls back to a model of another vendor: the
fallback gets the translation, the client still gets Anthropic's shape; what the translation
cannot carry keeps the Anthropic model's own failure as the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> Iterator[GatewayProcess]:
    catalog = f"""
prices_as_of: "2025-11-01"
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
  anthropic: {{kind: anthropic, api_key_env: KEY, base_url: "{fake_anthropic.base_url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.50, output: 10.00}}}}
  claude-first:
    provider: anthropic
    upstream_model: claude-sonnet-4-5
    fallbacks: [gpt-4o]
    pricing: {{input: 3, output: 15}}
"""
    workdir: Path = tmp_path_factory.mktemp("anthropic-fallback")
    process = GatewayProcess(workdir, catalog, env={"KEY": UPSTREAM_KEY}).start()
    yield process
    process.stop()


@pytest.fixture
def client(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> anthropic.Anthropic:
    fake_openai.reset()
    fake_anthropic.reset()
    return anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0, timeout=10)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_failing_anthropic_model_falls_back_to_openai_in_anthropics_shape(
    client: anthropic.Anthropic, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, streamed: bool
) -> None:
    fake_anthropic.script(Behaviour(status=529))
    ask: Any = {"model": "claude-first", "max_tokens": 50, "messages": HELLO}
    if streamed:
        with client.messages.stream(**ask) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**ask)
    assert message.content[0].type == "text" and message.content[0].text == "Hello from the fake upstream"
    assert fake_anthropic.received and fake_openai.last.body["messages"] == [
        {"role": "user", "content": "hello"}
    ]
    assert fake_openai.last.body["max_completion_tokens"] == 50


def test_a_request_the_fallback_cannot_take_answers_with_the_anthropic_models_failure(
    client: anthropic.Anthropic, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Behaviour(status=529))
    web_search: Any = [{"type": "web_search_20250305", "name": "web_search"}]
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude-first", max_tokens=50, messages=HELLO, tools=web_search)
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert not fake_openai.received
