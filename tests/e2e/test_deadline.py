"""The overall request deadline (`gateway.request_deadline_seconds`), through a real gateway:
a silent upstream cannot make a client wait attempts × timeout, and a flowing stream is not cut."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

DEADLINE = 2.0
SILENT = Behaviour(first_byte_delay=4)
"""Slower than the deadline (and than its share per attempt); the provider's own timeout is 60 s."""


def catalog(url: str) -> str:
    # Default provider settings: 4 attempts, a 60 s timeout, no stream timeouts of its own.
    return f"""
providers:
  silent:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
models:
  silent-model:
    provider: silent
    upstream_model: silent-model
    pricing: {{input: 1, output: 1}}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("deadline")
    process = GatewayProcess(
        workdir,
        catalog(fake_openai.base_url),
        env={"FAKE_OPENAI_KEY": UPSTREAM_KEY},
        config_extra=f"gateway:\n  request_deadline_seconds: {DEADLINE}\n",
    ).start()
    yield process
    process.stop()


def post(gateway: GatewayProcess, headers: dict[str, str] | None = None, **extra: object) -> httpx.Response:
    body = {"model": "silent-model", "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_a_silent_upstream_is_answered_504_within_the_deadline(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("silent-model", SILENT, SILENT, SILENT, SILENT)
    started = time.monotonic()
    response = post(gateway)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert "deadline" in response.json()["error"]["message"]
    assert DEADLINE - 0.3 < elapsed < DEADLINE + 1


def test_a_silent_stream_start_is_retried_within_the_deadline(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    # The first-byte wait is split across the attempts: all four (the default) are made, and the client is
    # answered within the deadline, not after 3 × the provider's timeout.
    upstream.script_model("silent-model", SILENT, SILENT, SILENT, SILENT)
    started = time.monotonic()
    response = post(gateway, stream=True)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert "deadline" in response.json()["error"]["message"]
    assert elapsed < DEADLINE + 1
    assert len(upstream.received_for("silent-model")) == 4


def test_a_client_header_shortens_the_deadline_but_never_lengthens_it(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("silent-model", SILENT)
    started = time.monotonic()
    assert post(gateway, headers={"X-Calcifer-Timeout-Ms": "500"}).status_code == 504
    assert time.monotonic() - started < 1.3
    upstream.script_model("silent-model", SILENT)
    started = time.monotonic()
    assert post(gateway, headers={"X-Calcifer-Timeout-Ms": "60000"}).status_code == 504
    assert time.monotonic() - started < DEADLINE + 1


def test_a_slow_but_flowing_stream_outlives_the_deadline(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    text = " ".join(f"word{i}" for i in range(12))
    upstream.script_model("silent-model", Behaviour(text=text, chunk_delay=0.3))
    started = time.monotonic()
    response = post(gateway, stream=True)
    assert response.status_code == 200
    assert time.monotonic() - started > DEADLINE + 1
    assert response.text.rstrip().endswith("data: [DONE]")
    assert "word11" in response.text
