"""Keys, budgets and the ledger on `/v1/messages`, with the official `anthropic` SDK (which
sends its key as a Bearer token; Claude Code sends `x-api-key`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.access_setup import ECHO_CATALOG, MASTER, admin, new_key
from tests.gateway_process import GatewayProcess

HELLO: Any = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("anthropic-access")
    process = GatewayProcess(workdir, ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER}, auth_required=True)
    yield process.start()
    process.stop()


def client(gateway: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=10)


def test_no_usable_key_is_a_401_authentication_error(gateway: GatewayProcess) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(gateway, "ck-made-up").messages.create(model="echo4", max_tokens=10, messages=HELLO)
    assert caught.value.body == {
        "type": "error",
        "error": {
            "type": "authentication_error",
            "message": caught.value.body["error"]["message"],
            "code": "invalid_api_key",
        },  # type: ignore[index]
    }
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_a_key_as_x_api_key_is_accepted_and_its_requests_are_in_the_ledger_as_messages(
    gateway: GatewayProcess,
) -> None:
    created = new_key(gateway)
    body = {"model": "echo-alias", "max_tokens": 10, "messages": HELLO}
    response = httpx.post(
        gateway.url + "/v1/messages?beta=true", json=body, headers={"x-api-key": created["key"]}, timeout=10
    )
    assert response.status_code == 200, response.text
    cost = Decimal(response.headers["x-calcifer-cost"])
    assert Decimal(str(response.json()["usage"]["cost"])) == cost > 0
    time.sleep(1.5)  # the ledger is written in batches
    row = admin(gateway, "GET", f"/admin/requests?key_id={created['id']}").json()["data"][0]
    assert (row["route"], row["requested_model"], Decimal(row["cost_usd"])) == (
        "messages",
        "echo-alias",
        cost,
    )


def test_a_key_limited_to_other_models_gets_a_403_permission_error_and_no_count(
    gateway: GatewayProcess,
) -> None:
    limited = client(gateway, new_key(gateway, models=["echo-cheap"])["key"])
    assert limited.messages.create(model="echo-cheap", max_tokens=10, messages=HELLO).content
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        limited.messages.create(model="echo4", max_tokens=10, messages=HELLO)
    assert caught.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError):
        limited.messages.count_tokens(model="echo4", messages=HELLO)
    assert limited.messages.count_tokens(model="echo-cheap", messages=HELLO).input_tokens == 3


def test_a_spent_budget_is_a_402_the_sdk_does_not_retry(gateway: GatewayProcess) -> None:
    secret = new_key(gateway, budget={"max_usd": "0.0005", "period": "day"})["key"]
    spender = anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=2, timeout=10)
    with pytest.raises(anthropic.APIStatusError) as caught:
        for _ in range(20):
            spender.messages.create(model="echo4", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == 402
    assert caught.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    assert caught.value.response.headers["x-should-retry"] == "false"
