"""What the access tests share: the echo catalog, the master key, admin calls, a fresh
PostgreSQL database per gateway."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
import httpx

from tests.gateway_process import GatewayProcess

MASTER = "master-SECRET-for-access-tests"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
ECHO_CATALOG = """
prices_as_of: "2025-11-01"
providers:
  echo:
    kind: echo
models:
  echo4:
    provider: echo
    aliases: [echo-alias]
    pricing: {input: 50, output: 50}
  echo-cheap:
    provider: echo
    pricing: {input: 1, output: 1}
"""
HELLO = [{"role": "user", "content": "hello there"}]


def admin(gateway: GatewayProcess, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gateway.url + path, json=body, headers=ADMIN, timeout=10)


def new_key(gateway: GatewayProcess, **fields: Any) -> dict[str, Any]:
    response = admin(gateway, "POST", "/admin/keys", {"name": "test key", **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def fresh_database(server_url: str) -> str:
    """The URL of a new, empty database on the PostgreSQL server at `server_url`."""
    name = f"calcifer_{secrets.token_hex(4)}"
    asyncio.run(_create_database(server_url, name))
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def _create_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
