"""SIGTERM: stop accepting, let in-flight requests finish within the grace period, then end
the streams still open with a terminal error event."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

CATALOG = """
providers:
  openai:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
    max_retries: 0
models:
  endless:
    provider: openai
    pricing: {{input: 1, output: 1}}
  slowish:
    provider: openai
    pricing: {{input: 1, output: 1}}
"""


def test_sigterm_finishes_short_requests_and_ends_long_streams_cleanly(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script_model("endless", Behaviour(endless=True, chunk_delay=0.05))
    fake_openai.script_model("slowish", Behaviour(first_byte_delay=0.4))
    gateway = GatewayProcess(
        tmp_path, CATALOG.format(url=fake_openai.base_url), env={"FAKE_OPENAI_KEY": UPSTREAM_KEY}
    ).start()  # grace period: 1 s
    results: dict[str, httpx.Response] = {}

    def call(name: str, model: str, stream: bool) -> None:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        results[name] = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=15)

    threads = [
        threading.Thread(target=call, args=("stream", "endless", True)),
        threading.Thread(target=call, args=("short", "slowish", False)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.25)
    assert gateway._process is not None
    stopped_at = time.monotonic()
    gateway._process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=10)
    gateway._process.wait(timeout=10)
    assert time.monotonic() - stopped_at < 3
    assert results["short"].status_code == 200  # finished within the grace period
    events = [e for e in results["stream"].text.split("\n\n") if e]
    assert len(events) > 5
    assert '"code":"server_shutting_down"' in events[-1]
    deadline = time.monotonic() + 2
    while not fake_openai.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_openai.disconnects  # the upstream stream was closed too
    # a clean stop says nothing alarming: no task reported as cut short, no traceback
    assert "cancelled before it completed" not in gateway.log()
    assert "Traceback" not in gateway.log()
