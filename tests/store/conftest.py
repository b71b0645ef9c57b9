"""A fresh, migrated database per test, on SQLite and on the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from calcifer.store import Store, apply_migrations, open_store


async def create_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"calcifer_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'calcifer.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    server_url: str = request.getfixturevalue("postgres_url")
    return asyncio.run(create_database(server_url))


StoreScenario = Callable[[Store], Awaitable[None]]


def run_with_store(url: str, scenario: StoreScenario) -> None:
    """Migrate, open, run the scenario, close: all on one event loop."""

    async def main() -> None:
        await apply_migrations(url)
        store = await open_store(url)
        try:
            await scenario(store)
        finally:
            await store.aclose()

    asyncio.run(main())
