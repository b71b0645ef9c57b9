"""Keys, budgets, limits and the ledger through the real gateway on the embedded store
(SQLite), with the official OpenAI and Anthropic SDKs as clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.access_setup import ECHO_CATALOG, HELLO, MASTER, admin, fresh_database, new_key
from tests.gateway_process import GatewayProcess, free_port


@pytest.fixture(scope="module", params=["sqlite", "postgresql+redis"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Two workers on the embedded store (their counters in shared memory), or on a real
    PostgreSQL and Redis (the set-up of several replicas)."""
    workdir: Path = tmp_path_factory.mktemp("access")
    env = {"CALCIFER_MASTER_KEY": MASTER}
    if request.param == "postgresql+redis":
        env["CALCIFER_DATABASE_URL"] = fresh_database(request.getfixturevalue("postgres_url"))
        env["CALCIFER_REDIS_URL"] = request.getfixturevalue("redis_url")
    process = GatewayProcess(workdir, ECHO_CATALOG, env=env, workers=2, auth_required=True).start()
    yield process
    process.stop()


def client(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def chat(gateway: GatewayProcess, key: str, model: str = "echo4", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": HELLO, **extra}
    if not key:
        return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_a_request_without_a_usable_key_is_a_401_in_openai_shape(gateway: GatewayProcess) -> None:
    for key in ("", "ck-made-up", "sk-not-ours"):
        response = chat(gateway, key)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert response.headers["x-should-retry"] == "false"
    with pytest.raises(openai.AuthenticationError):
        client(gateway, "ck-nope").chat.completions.create(model="echo4", messages=HELLO)  # type: ignore[arg-type]


def test_a_created_key_works_with_the_sdk_and_with_x_api_key(gateway: GatewayProcess) -> None:
    created = new_key(gateway)
    secret = created["key"]
    assert secret.startswith("ck-") and created["prefix"] == secret[:10]
    answer = client(gateway, secret).chat.completions.create(model="echo4", messages=HELLO)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "echo4", "messages": HELLO},
        headers={"x-api-key": secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    shown = admin(gateway, "GET", f"/admin/keys/{created['id']}").json()
    assert "key" not in shown and secret not in str(shown)
    assert secret not in gateway.log()


def test_a_revoked_key_is_refused_by_every_worker_within_two_seconds(gateway: GatewayProcess) -> None:
    secret = new_key(gateway)["key"]
    key_id = admin(gateway, "GET", "/admin/keys").json()["data"][-1]["id"]
    for _ in range(6):  # new connections reach both workers; each learns the key
        assert chat(gateway, secret).status_code == 200
    assert admin(gateway, "DELETE", f"/admin/keys/{key_id}").json()["status"] == "revoked"
    time.sleep(2.0)
    statuses = {
        httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "echo4", "messages": HELLO},
            headers={"Authorization": f"Bearer {secret}", "Connection": "close"},
            timeout=10,
        ).status_code
        for _ in range(10)
    }
    assert statuses == {401}


def test_a_key_limited_to_some_models_gets_a_403_for_the_others(gateway: GatewayProcess) -> None:
    secret = new_key(gateway, models=["echo-alias"])["key"]
    assert chat(gateway, secret, "echo4").status_code == 200  # allowed by its alias
    refused = chat(gateway, secret, "echo-cheap")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    listed = client(gateway, secret).models.list()
    assert [model.id for model in listed] == ["echo4"]  # what the key may call, nothing else


def test_a_spent_budget_is_a_402_naming_it_and_the_ledger_agrees_with_the_answers(
    gateway: GatewayProcess,
) -> None:
    created = new_key(gateway, budget={"max_usd": "0.002", "period": "day"}, metadata={"owner": "tests"})
    secret, costs = created["key"], []
    for _ in range(20):
        response = chat(gateway, secret, max_tokens=2)
        if response.status_code != 200:
            break
        costs.append(Decimal(response.headers["x-calcifer-cost"]))
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded" and error["type"] == "insufficient_quota"
    assert error["scope"] == f"key:{created['id']}" and error["resets_at"].endswith("Z")
    assert response.headers["x-should-retry"] == "false"
    assert sum(costs) <= Decimal("0.002")
    time.sleep(1.5)  # the ledger is written in batches
    spend = admin(gateway, "GET", f"/admin/spend?group_by=key&key_id={created['id']}").json()
    assert Decimal(spend["total"]["cost_usd"]) == sum(costs)
    assert spend["data"][0]["requests"] >= len(costs)
    shown = admin(gateway, "GET", f"/admin/keys/{created['id']}").json()
    assert Decimal(shown["budget"]["spend_usd"]) == sum(costs)


def test_a_rate_limit_is_a_429_with_retry_after_and_counts_across_workers(gateway: GatewayProcess) -> None:
    secret = new_key(gateway, limits={"rpm": 3})["key"]
    statuses = [
        httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "echo4", "messages": HELLO},
            headers={"Authorization": f"Bearer {secret}", "Connection": "close"},
            timeout=10,
        )
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429, 429]
    limited = statuses[-1]
    assert limited.json()["error"]["code"] == "key_rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 61


def test_a_key_shows_its_requests_of_the_last_minute_and_nothing_held_once_settled(
    gateway: GatewayProcess,
) -> None:
    created = new_key(gateway, budget={"max_usd": "5"}, limits={"rpm": 100})
    for _ in range(4):
        assert chat(gateway, created["key"], "echo-cheap", max_tokens=5).status_code == 200
    deadline = time.monotonic() + 3.0  # settlement runs just after each answer is sent
    while True:
        shown = admin(gateway, "GET", f"/admin/keys/{created['id']}").json()
        if shown["budget"]["reserved_usd"] == "0" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert shown["budget"]["reserved_usd"] == "0"
    assert shown["usage"]["requests_last_minute"] == 4 and shown["usage"]["in_flight"] == 0
    assert shown["limits"]["rpm"] == 100


def test_the_request_ledger_lists_newest_first_with_usage_and_cost(gateway: GatewayProcess) -> None:
    created = new_key(gateway)
    for _ in range(3):
        assert chat(gateway, created["key"], "echo-cheap").status_code == 200
    time.sleep(1.5)
    page = admin(gateway, "GET", f"/admin/requests?key_id={created['id']}&limit=2").json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    first = page["data"][0]
    assert first["key_id"] == created["id"] and first["served_model"] == "echo-cheap"
    assert first["status"] == 200 and Decimal(first["cost_usd"]) > 0
    rest = admin(
        gateway, "GET", f"/admin/requests?key_id={created['id']}&cursor={page['next_cursor']}"
    ).json()
    assert len(rest["data"]) == 1 and rest["data"][0]["started_at"] <= first["started_at"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "k", "colour": "red"}, "colour"),
        ({"name": "k", "budget": {"max_usd": "-1"}}, "budget.max_usd"),
        ({"name": "k", "limits": {"rpm": 0}}, "limits.rpm"),
        ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "k", "team_id": "team_nope"}, "team_id"),
        ({"name": "k", "models": ["no-such-model"]}, "models"),
        ({}, "name"),
    ],
)
def test_bad_admin_input_is_a_400_naming_the_field(gateway: GatewayProcess, body: Any, param: str) -> None:
    response = admin(gateway, "POST", "/admin/keys", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_admin_answers_404_for_unknown_ids_and_401_without_the_master_key(gateway: GatewayProcess) -> None:
    assert admin(gateway, "GET", "/admin/keys/key_nope").status_code == 404
    assert admin(gateway, "DELETE", "/admin/teams/team_nope").status_code == 404
    response = httpx.get(gateway.url + "/admin/keys", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert response.status_code == 401


def test_a_team_budget_applies_to_all_its_keys_and_a_team_with_keys_cannot_be_deleted(
    gateway: GatewayProcess,
) -> None:
    team = admin(gateway, "POST", "/admin/teams", {"name": "search", "budget": {"max_usd": "0.0015"}}).json()
    first, second = new_key(gateway, team_id=team["id"])["key"], new_key(gateway, team_id=team["id"])["key"]
    statuses = [chat(gateway, key, max_tokens=2).status_code for key in (first, second) * 6]
    assert 402 in statuses and statuses.count(200) >= 1
    assert admin(gateway, "DELETE", f"/admin/teams/{team['id']}").status_code == 409


def test_health_detail_shows_keys_limits_and_the_ledger(gateway: GatewayProcess) -> None:
    access = gateway.health_detail()["access"]
    on_postgres = "CALCIFER_DATABASE_URL" in gateway.env
    assert access["keys_required"] is True
    assert access["database"] == ("postgresql" if on_postgres else "sqlite")
    # two workers share one table of counters, or every replica one Redis
    assert access["counters"] == ("RedisCounters" if on_postgres else "MachineCounters")
    assert access["limits_unavailable"] is False and access["ledger_lost_records"] == 0
    assert access["keys_refreshed_seconds_ago"] < 3


@pytest.mark.parametrize(("fail_mode", "status"), [("closed", 503), ("open", 200)])
def test_unreachable_counters_fail_closed_by_default_or_open_when_chosen(
    tmp_path: Path, fail_mode: str, status: int
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    process = GatewayProcess(
        tmp_path,
        ECHO_CATALOG,
        env={"CALCIFER_MASTER_KEY": MASTER, "CALCIFER_REDIS_URL": dead_redis},
        auth_required=True,
        config_extra=f"access:\n  fail_mode: {fail_mode}\n",
    ).start()
    try:
        limited = new_key(process, limits={"rpm": 100})["key"]
        unlimited = new_key(process)["key"]
        response = chat(process, limited)
        assert response.status_code == status, response.text
        if status == 503:
            assert response.json()["error"]["code"] == "limits_unavailable"
        assert chat(process, unlimited).status_code == 200  # nothing to count: served either way
        assert process.health_detail()["access"]["limits_unavailable"] is True
    finally:
        process.stop()


def test_a_streamed_answer_is_settled_and_recorded_with_its_cost(gateway: GatewayProcess) -> None:
    created = new_key(gateway, budget={"max_usd": "1", "period": "month"})
    stream = client(gateway, created["key"]).chat.completions.create(
        model="echo4",
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    cost = Decimal(str(chunks[-1].usage.cost))  # type: ignore[union-attr]
    time.sleep(1.5)
    records = admin(gateway, "GET", f"/admin/requests?key_id={created['id']}").json()["data"]
    assert len(records) == 1 and records[0]["stream"] is True
    assert Decimal(records[0]["cost_usd"]) == cost > 0 and records[0]["ttft_ms"] is not None
    shown = admin(gateway, "GET", f"/admin/keys/{created['id']}").json()
    assert Decimal(shown["budget"]["spend_usd"]) == cost
