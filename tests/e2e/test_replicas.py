"""Two replicas (two `calcifer serve` processes) sharing one PostgreSQL and one Redis behave
as one gateway: budgets, rate limits, revocation and the ledger hold across both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.access_setup import ECHO_CATALOG, HELLO, MASTER, admin, fresh_database, new_key
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    database_url = fresh_database(postgres_url)
    env = {
        "CALCIFER_MASTER_KEY": MASTER,
        "CALCIFER_DATABASE_URL": database_url,
        "CALCIFER_REDIS_URL": redis_url,
    }
    started = []
    try:
        for label in ("a", "b"):
            workdir: Path = tmp_path_factory.mktemp(f"replica-{label}")
            started.append(GatewayProcess(workdir, ECHO_CATALOG, env=env, auth_required=True).start())
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


async def _spread(
    replicas: tuple[GatewayProcess, GatewayProcess], key: str, count: int
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "echo4", "messages": HELLO, "max_tokens": 2}
    async with httpx.AsyncClient(timeout=20) as client:
        calls = [
            client.post(replicas[i % 2].url + "/v1/chat/completions", json=body, headers=headers)
            for i in range(count)
        ]
        return list(await asyncio.gather(*calls))


def test_a_small_budget_is_never_overspent_by_64_requests_across_two_replicas(
    replicas: tuple[GatewayProcess, GatewayProcess],
) -> None:
    created = new_key(replicas[0], budget={"max_usd": "0.005", "period": "total"})
    answers = asyncio.run(_spread(replicas, created["key"], 64))
    statuses = {answer.status_code for answer in answers}
    assert statuses <= {200, 402}, statuses
    costs = [Decimal(answer.headers["x-calcifer-cost"]) for answer in answers if answer.status_code == 200]
    assert costs and 402 in statuses
    assert sum(costs) <= Decimal("0.005")
    time.sleep(1.5)  # both replicas' ledger batches
    spend = admin(replicas[1], "GET", f"/admin/spend?group_by=key&key_id={created['id']}").json()
    assert Decimal(spend["total"]["cost_usd"]) == sum(costs)
    assert spend["total"]["requests"] == 64  # refused ones are recorded too, at no cost


def test_an_rpm_limit_admits_exactly_the_limit_across_two_replicas(
    replicas: tuple[GatewayProcess, GatewayProcess],
) -> None:
    created = new_key(replicas[1], limits={"rpm": 10})
    answers = asyncio.run(_spread(replicas, created["key"], 30))
    assert sum(answer.status_code == 200 for answer in answers) == 10
    assert {answer.status_code for answer in answers} == {200, 429}


def test_a_key_revoked_on_one_replica_is_refused_by_the_other_within_two_seconds(
    replicas: tuple[GatewayProcess, GatewayProcess],
) -> None:
    created = new_key(replicas[0])
    headers = {"Authorization": f"Bearer {created['key']}"}
    body = {"model": "echo4", "messages": HELLO}
    assert httpx.post(replicas[1].url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    assert admin(replicas[0], "DELETE", f"/admin/keys/{created['id']}").status_code == 200
    time.sleep(2.0)
    assert httpx.post(replicas[1].url + "/v1/chat/completions", json=body, headers=headers).status_code == 401
