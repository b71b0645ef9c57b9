"""A reload replaces what the catalog says and keeps what the process learned: breakers,
latency, warm upstream connections; a provider whose endpoint changed starts afresh."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

MASTER_KEY = "calcifer-master-lifetimes"


def catalog(url_a: str, url_b: str, price: int = 1) -> str:
    return f"""
providers:
  vendor-a:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url_a}
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 2, cooldown_seconds: 120}}
  vendor-b:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url_b}
    max_retries: 0
models:
  model-a:
    provider: vendor-a
    upstream_model: model-a
    pricing: {{input: {price}, output: {price}}}
  model-b:
    provider: vendor-b
    upstream_model: model-b
    pricing: {{input: {price}, output: {price}}}
"""


@pytest.fixture
def second_upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"FAKE_OPENAI_KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER_KEY}
    process = GatewayProcess(
        tmp_path, catalog(upstream.base_url, upstream.base_url), env=env, config_extra="  watch_seconds: 0\n"
    ).start()
    yield process
    process.stop()


def ask(gateway: GatewayProcess, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


def reload_with(gateway: GatewayProcess, catalog_yaml: str) -> None:
    (gateway.workdir / "catalog.yaml").write_text(catalog_yaml)
    response = httpx.post(
        gateway.url + "/admin/reload", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    )
    assert response.json()["reloaded"] is True, response.text


def breaker_of(gateway: GatewayProcess, upstream_model: str) -> str:
    detail = gateway.health_detail()
    return next(d["breaker"] for d in detail["deployments"] if d["upstream_model"] == upstream_model)


def test_a_breaker_opened_before_a_price_edit_is_still_open_after_it(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("model-a", Behaviour(status=500), Behaviour(status=500))
    assert [ask(gateway, "model-a").status_code for _ in range(2)] == [502, 502]
    assert breaker_of(gateway, "model-a") == "open"

    reload_with(gateway, catalog(upstream.base_url, upstream.base_url, price=7))

    assert breaker_of(gateway, "model-a") == "open"
    refused = ask(gateway, "model-a")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "deployments_unavailable"
    assert len(upstream.received_for("model-a")) == 2  # the open breaker kept the upstream spared


def test_requests_after_a_price_only_reload_reuse_the_warm_upstream_connection(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    assert ask(gateway, "model-b").status_code == 200
    reload_with(gateway, catalog(upstream.base_url, upstream.base_url, price=3))
    time.sleep(0.2)  # the replaced catalog is retired once drained; its adapters must stay open
    answer = ask(gateway, "model-b")
    assert answer.status_code == 200 and answer.json()["usage"]["cost"] > 0
    peers = {received.peer for received in upstream.received_for("model-b")}
    assert len(upstream.received_for("model-b")) == 2 and len(peers) == 1, peers


def test_an_endpoint_change_rebuilds_that_provider_only(
    gateway: GatewayProcess, upstream: FakeOpenAI, second_upstream: FakeOpenAI
) -> None:
    upstream.script_model("model-a", Behaviour(status=500), Behaviour(status=500))
    assert [ask(gateway, "model-a").status_code for _ in range(2)] == [502, 502]
    assert ask(gateway, "model-b").status_code == 200

    reload_with(gateway, catalog(second_upstream.base_url, upstream.base_url))

    assert breaker_of(gateway, "model-a") == "closed"  # a new endpoint: its past failures say nothing
    assert ask(gateway, "model-a").status_code == 200
    assert len(second_upstream.received_for("model-a")) == 1
    assert ask(gateway, "model-b").status_code == 200
    peers = {received.peer for received in upstream.received_for("model-b")}
    assert len(peers) == 1, peers  # the unchanged provider kept its connection
