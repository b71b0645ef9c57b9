"""The gateway keeps its connections to a provider open and reuses them, streamed answers included."""

from __future__ import annotations

import time

import httpx

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess


def test_one_kept_alive_upstream_connection_serves_requests_in_turn(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script(*(Behaviour() for _ in range(4)))
    for stream in (True, False, True, False):
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
        assert response.status_code == 200
        time.sleep(0.05)  # a stream's connection returns once its last chunk has arrived
    peers = {received.peer for received in upstream.received}
    assert len(upstream.received) == 4 and len(peers) == 1, peers
