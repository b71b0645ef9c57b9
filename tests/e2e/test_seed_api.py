"""The seeds' `/v1/completions` contract, unchanged, for every provider."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import orjson

from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess

SEED_REQUEST = {"model": "echo4", "messages": [{"role": "user", "content": "Test message"}]}


def test_seed_response_matches_the_seed_readme(gateway: GatewayProcess) -> None:
    response = httpx.post(gateway.url + "/v1/completions", json=SEED_REQUEST)
    body = response.json()
    assert body["content"] == "[user]: Test message"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4, "cost": 0.0002}
    assert (body["model"], body["provider"]) == ("echo4", "echo")
    assert body["id"]
    assert datetime.fromisoformat(body["finish_time"].replace("Z", "+00:00"))
    assert response.headers["x-calcifer-cost"] == "0.0002"


def test_seed_stream_sends_deltas_then_done_with_usage(gateway: GatewayProcess) -> None:
    response = httpx.post(gateway.url + "/v1/completions", json={**SEED_REQUEST, "stream": True})
    events = [orjson.loads(e.removeprefix("data: ")) for e in response.text.split("\n\n") if e]
    assert [e["delta"] for e in events[:-1]] == ["[user]: ", "Test ", "message"]
    assert all(e["done"] is False for e in events[:-1])
    done = events[-1]
    assert done["done"] is True and done["delta"] == ""
    assert done["usage"]["cost"] == 0.0002


def test_a_large_echo_streams_by_size_not_per_word(gateway: GatewayProcess) -> None:
    """echo4 must not turn one large request into one event per word (a CPU amplifier)."""
    words = 30_000  # as many as the test gateway's 64 kB body limit lets in
    body = {"model": "echo4", "stream": True, "messages": [{"role": "user", "content": "w " * words}]}
    response = httpx.post(gateway.url + "/v1/completions", json=body, timeout=30)
    events = [orjson.loads(e.removeprefix("data: ")) for e in response.text.split("\n\n") if e]
    assert len(events) < 100
    assert "".join(e["delta"] for e in events).split() == ["[user]:", *["w"] * words]
    assert events[-1]["usage"]["completion_tokens"] == words


def test_seed_api_serves_openai_models_with_cost(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "metadata": {"team": "search"},
    }
    response = httpx.post(gateway.url + "/v1/completions", json=body, headers={"X-Provider": "openai"})
    result = response.json()
    assert result["content"] == "Hello from the fake upstream"
    assert result["provider"] == "openai"
    assert result["usage"]["cost"] == 0.00009  # (12×2.50 + 6×10) / 1M
    assert upstream.last.body == {"model": "gpt-4o-upstream", "messages": body["messages"], "max_tokens": 50}
    request_id = response.headers["x-request-id"]
    time.sleep(0.1)
    line = next(line for line in gateway.log().splitlines() if request_id in line)
    assert orjson.loads(line)["metadata"] == {"team": "search"}


def test_health(gateway: GatewayProcess) -> None:
    response = httpx.get(gateway.url + "/health")
    assert response.json() == {"status": "healthy"}


def test_cors_preflight_and_allow_origin(gateway: GatewayProcess) -> None:
    preflight = httpx.options(
        gateway.url + "/v1/chat/completions",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    response = httpx.post(
        gateway.url + "/v1/completions", json=SEED_REQUEST, headers={"Origin": "https://app.example"}
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "X-Calcifer-Cost" in response.headers["access-control-expose-headers"]
    stranger = httpx.post(
        gateway.url + "/v1/completions", json=SEED_REQUEST, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers
