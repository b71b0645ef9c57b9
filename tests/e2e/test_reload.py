"""Editing the catalog never takes a running gateway down: reload is validated and atomic."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

MASTER_KEY = "calcifer-master-test-key"


def catalog(url: str, extra_models: str = "") -> str:
    return f"""
providers:
  echo: {{kind: echo}}
  openai:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
    max_retries: 0
models:
  echo4:
    provider: echo
    pricing: {{input: 50, output: 50}}
  slow-gpt:
    provider: openai
    upstream_model: slow-gpt
    pricing: {{input: 1, output: 1}}
{extra_models}"""


NEW_MODEL = "  echo5:\n    provider: echo\n    pricing: {input: 1, output: 1}\n"


@pytest.fixture
def reloadable(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"FAKE_OPENAI_KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER_KEY}
    gateway = GatewayProcess(
        tmp_path, catalog(fake_openai.base_url), env=env, config_extra="  watch_seconds: 0\n"
    ).start()
    yield gateway
    gateway.stop()


def ask(gateway: GatewayProcess, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


def reload(gateway: GatewayProcess, key: str = MASTER_KEY) -> httpx.Response:
    return httpx.post(gateway.url + "/admin/reload", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def version(gateway: GatewayProcess) -> str:
    return str(gateway.health_detail()["catalog_version"])


def test_admin_api_is_off_without_a_master_key(gateway: GatewayProcess) -> None:
    response = reload(gateway, "anything")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_disabled"


def test_wrong_master_key_is_refused(reloadable: GatewayProcess) -> None:
    assert reload(reloadable, "wrong").status_code == 401


def test_valid_edit_is_served_after_reload(reloadable: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    before = version(reloadable)
    assert ask(reloadable, "echo5").status_code == 404
    (reloadable.workdir / "catalog.yaml").write_text(catalog(fake_openai.base_url, NEW_MODEL))
    response = reload(reloadable)
    assert response.status_code == 200 and response.json()["reloaded"] is True
    assert ask(reloadable, "echo5").status_code == 200
    assert version(reloadable) == response.json()["catalog_version"] != before
    again = reload(reloadable)
    assert again.json()["reloaded"] is False  # nothing changed


def test_invalid_edit_keeps_the_last_good_catalog(
    reloadable: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    before = version(reloadable)
    broken = catalog(
        fake_openai.base_url, "  echo6:\n    provider: nobody\n    pricing: {input: 1, output: 1}\n"
    )
    (reloadable.workdir / "catalog.yaml").write_text(broken)
    response = reload(reloadable)
    assert response.status_code == 422
    located = f"{reloadable.workdir}/catalog.yaml:18:15: models.echo6.provider: unknown provider 'nobody'"
    assert response.json()["problems"] == [located + " (declared: echo, openai)"]
    assert version(reloadable) == before
    assert ask(reloadable, "echo4").status_code == 200
    assert "unknown provider 'nobody'" in reloadable.log()


def test_sighup_reloads(reloadable: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    (reloadable.workdir / "catalog.yaml").write_text(catalog(fake_openai.base_url, NEW_MODEL))
    assert reloadable._process is not None
    os.kill(reloadable._process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while ask(reloadable, "echo5").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ask(reloadable, "echo5").status_code == 200


def test_request_in_flight_finishes_on_the_catalog_it_started_with(
    reloadable: GatewayProcess, upstream: FakeOpenAI
) -> None:
    upstream.script_model("slow-gpt", Behaviour(chunk_delay=0.1))
    streamed: list[str] = []

    def stream() -> None:
        body = {"model": "slow-gpt", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        streamed.append(httpx.post(reloadable.url + "/v1/chat/completions", json=body, timeout=15).text)

    worker = threading.Thread(target=stream)
    worker.start()
    time.sleep(0.2)
    without_slow = catalog(upstream.base_url).replace(
        "  slow-gpt:\n    provider: openai\n    upstream_model: slow-gpt\n"
        "    pricing: {input: 1, output: 1}\n",
        "",
    )
    (reloadable.workdir / "catalog.yaml").write_text(without_slow)
    assert reload(reloadable).json()["reloaded"] is True
    worker.join()
    assert streamed[0].endswith("data: [DONE]\n\n")
    assert ask(reloadable, "slow-gpt").status_code == 404


def test_catalog_files_are_watched(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    gateway = GatewayProcess(
        tmp_path,
        catalog(fake_openai.base_url),
        env={"FAKE_OPENAI_KEY": UPSTREAM_KEY},
        config_extra="  watch_seconds: 0.2\n",
    ).start()
    try:
        (tmp_path / "catalog.yaml").write_text(catalog(fake_openai.base_url, NEW_MODEL))
        deadline = time.monotonic() + 5
        while ask(gateway, "echo5").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ask(gateway, "echo5").status_code == 200
    finally:
        gateway.stop()


def test_a_refused_reload_is_logged_as_422_and_shown_by_health(
    reloadable: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    broken = catalog(
        fake_openai.base_url, "  echo6:\n    provider: nobody\n    pricing: {input: 1, output: 1}\n"
    )
    (reloadable.workdir / "catalog.yaml").write_text(broken)
    response = reload(reloadable)
    assert response.status_code == 422
    detail = reloadable.health_detail()
    last = detail["last_reload"]
    assert (last["reason"], last["reloaded"]) == ("admin endpoint", False)
    assert last["problems"] == response.json()["problems"]
    assert detail["catalog_version"] == last["catalog_version"]  # still serving the last good one
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while request_id not in reloadable.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in reloadable.log().splitlines() if request_id in line and '"route"' in line)
    assert '"status":422' in line, line


def test_health_detail_is_for_operators_only(gateway: GatewayProcess, reloadable: GatewayProcess) -> None:
    assert httpx.get(gateway.url + "/health").json() == {"status": "healthy"}  # probes need no key
    assert httpx.get(gateway.url + "/health?detail=1").status_code == 403  # no master key: off
    refused = httpx.get(reloadable.url + "/health?detail=1")
    assert refused.status_code == 401 and "deployments" not in refused.text
    assert "deployments" in reloadable.health_detail()
