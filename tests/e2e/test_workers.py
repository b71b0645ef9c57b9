"""Several workers of one machine behave as one gateway: one catalog, one breaker per deployment."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

MASTER_KEY = "calcifer-master-workers"
WORKERS = 2


def catalog(url: str, extra: str = "") -> str:
    return f"""
providers:
  echo: {{kind: echo}}
  vendor:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
    max_retries: 0
    circuit_breaker: {{consecutive_failures: 2, cooldown_seconds: 120}}
models:
  echo4:
    provider: echo
    pricing: {{input: 50, output: 50}}
  flaky:
    provider: vendor
    upstream_model: flaky
    pricing: {{input: 1, output: 1}}
{extra}"""


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"FAKE_OPENAI_KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER_KEY}
    process = GatewayProcess(
        tmp_path, catalog(upstream.base_url), env=env, workers=WORKERS, config_extra="  watch_seconds: 0\n"
    ).start()
    details_from_every_worker(process)  # every worker is up, not only the first to answer
    yield process
    process.stop()


def details_from_every_worker(gateway: GatewayProcess) -> dict[int, dict[str, object]]:
    """`/health?detail=1` as each worker answers it (new connections until all have answered)."""
    seen: dict[int, dict[str, object]] = {}
    deadline = time.monotonic() + 10
    while len(seen) < WORKERS and time.monotonic() < deadline:
        detail = gateway.health_detail(new_connection=True)
        seen[int(detail["worker_pid"])] = detail
    assert len(seen) == WORKERS, "not every worker answered"
    return seen


def test_a_reload_on_one_worker_reaches_every_worker_within_two_seconds(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    (gateway.workdir / "catalog.yaml").write_text(
        catalog(upstream.base_url, "  echo5:\n    provider: echo\n    pricing: {input: 1, output: 1}\n")
    )
    answer = httpx.post(
        gateway.url + "/admin/reload", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    ).json()
    assert answer["reloaded"] is True
    time.sleep(2)
    versions = {detail["catalog_version"] for detail in details_from_every_worker(gateway).values()}
    assert versions == {answer["catalog_version"]}


def test_a_breaker_opened_by_one_worker_is_open_in_every_worker(
    gateway: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("flaky", Behaviour(status=500), Behaviour(status=500))
    body = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=gateway.url, timeout=10) as one_connection:  # one worker serves both
        assert [one_connection.post("/v1/chat/completions", json=body).status_code for _ in range(2)] == [
            502,
            502,
        ]
    for detail in details_from_every_worker(gateway).values():
        states = {d["upstream_model"]: d["breaker"] for d in detail["deployments"]}  # type: ignore[attr-defined]
        assert states["flaky"] == "open", detail
    for _ in range(6):  # new connections: any worker may answer, none calls the upstream
        refused = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
        assert refused.status_code == 503
    assert len(upstream.received_for("flaky")) == 2


def test_sighup_to_the_manager_reloads_every_worker(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    before = {detail["catalog_version"] for detail in details_from_every_worker(gateway).values()}
    (gateway.workdir / "catalog.yaml").write_text(
        catalog(upstream.base_url, "  echo6:\n    provider: echo\n    pricing: {input: 1, output: 1}\n")
    )
    assert gateway._process is not None
    os.kill(gateway._process.pid, signal.SIGHUP)
    time.sleep(2)
    after = {detail["catalog_version"] for detail in details_from_every_worker(gateway).values()}
    assert len(after) == 1 and after != before
