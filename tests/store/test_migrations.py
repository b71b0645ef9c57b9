"""Migrations: applied once, under a lock (two migrators at once do not race), on both
databases, by `calcifer db migrate` too; an unreachable database is `StoreUnavailable`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import asyncpg
import pytest

from calcifer.errors import StoreUnavailable
from calcifer.store import apply_migrations, open_store
from calcifer.store.schema import MIGRATIONS
from tests.servers._process import free_port
from tests.store.conftest import create_database, sqlite_url

ALL_VERSIONS = [migration.version for migration in MIGRATIONS]


def test_migrations_apply_once_then_find_nothing_to_do(database_url: str) -> None:
    assert asyncio.run(apply_migrations(database_url)) == ALL_VERSIONS
    assert asyncio.run(apply_migrations(database_url)) == []


def test_two_postgres_migrators_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    url = asyncio.run(create_database(postgres_url))

    async def both() -> list[list[int]]:
        return list(await asyncio.gather(*(apply_migrations(url) for _ in range(4))))

    results = asyncio.run(both())
    assert sorted(results, key=len) == [[], [], [], ALL_VERSIONS]

    async def recorded() -> list[int]:
        connection = await asyncpg.connect(url)
        try:
            return [row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")]
        finally:
            await connection.close()

    assert sorted(asyncio.run(recorded())) == ALL_VERSIONS


def test_two_sqlite_migrators_starting_together_apply_each_migration_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(asyncio.run(apply_migrations(url))))
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=len) == [[], [], [], ALL_VERSIONS]


def test_an_unreachable_database_is_store_unavailable(tmp_path: Path) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(StoreUnavailable):
        asyncio.run(apply_migrations(nowhere))
    with pytest.raises(StoreUnavailable):
        asyncio.run(open_store(nowhere))
    (tmp_path / "not-a-db").write_bytes(b"\x00" * 4096)
    with pytest.raises(StoreUnavailable):
        asyncio.run(apply_migrations(f"sqlite:///{tmp_path / 'not-a-db'}"))


def test_calcifer_db_migrate_brings_the_configured_database_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("access:\n  data_dir: data\n")

    def migrate() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "calcifer", "db", "migrate", "--config", str(tmp_path / "config.yaml")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout

    assert "applied migration(s) 1, 2" in migrate()
    assert (tmp_path / "data" / "calcifer.db").is_file()
    assert "up to date" in migrate()
