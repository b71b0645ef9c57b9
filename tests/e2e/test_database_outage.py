"""The database stops under load and comes back: keys keep working from memory, answers keep
flowing, and every request still reaches the ledger exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.access_setup import ADMIN, ECHO_CATALOG, MASTER
from tests.gateway_process import GatewayProcess
from tests.servers import PostgresServer, start_postgres


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.close()


async def _requests(gateway: GatewayProcess, key: str, count: int) -> list[httpx.Response]:
    body = {"model": "echo4", "messages": [{"role": "user", "content": "outage test"}]}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=16)) as client:
        calls = [
            client.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
            for _ in range(count)
        ]
        return list(await asyncio.gather(*calls))


def test_requests_served_while_the_database_is_down_all_reach_the_ledger(
    tmp_path: Path, database: PostgresServer
) -> None:
    env = {"CALCIFER_MASTER_KEY": MASTER, "CALCIFER_DATABASE_URL": database.url}
    gateway = GatewayProcess(tmp_path, ECHO_CATALOG, env=env, auth_required=True).start()
    try:
        created = httpx.post(gateway.url + "/admin/keys", json={"name": "outage"}, headers=ADMIN).json()
        answers = asyncio.run(_requests(gateway, created["key"], 100))
        database.stop()
        answers += asyncio.run(_requests(gateway, created["key"], 300))
        assert {answer.status_code for answer in answers} == {200}  # the key is known in memory
        refused = httpx.get(gateway.url + f"/admin/keys/{created['id']}", headers=ADMIN)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"
        assert gateway.health_detail()["access"]["ledger_spooled_records"] > 0
        database.start()
        costs = sum(Decimal(answer.headers["x-calcifer-cost"]) for answer in answers)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            spend = httpx.get(gateway.url + f"/admin/spend?key_id={created['id']}", headers=ADMIN)
            if spend.status_code == 200 and spend.json()["total"]["requests"] == 400:
                break
            time.sleep(0.3)
        total = spend.json()["total"]
        assert total["requests"] == 400 and Decimal(total["cost_usd"]) == costs
        assert gateway.health_detail()["access"]["ledger_lost_records"] == 0
    finally:
        gateway.stop()
