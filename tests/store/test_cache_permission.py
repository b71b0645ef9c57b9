"""A key's and a team's cache permission on SQLite and PostgreSQL: migration 9 leaves every
existing key and team allowed, and a forbidding one comes back as saved."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from pathlib import Path

import asyncpg

from calcifer.domain.access import Team, VirtualKey
from calcifer.store import Store, apply_migrations, open_store
from calcifer.store.schema import MIGRATIONS
from tests.store.conftest import run_with_store
from tests.store.test_key_store import NOW, a_key

_TRACKING = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
_OLD_TEAM = "INSERT INTO teams (id, name, revision) VALUES ('team_old', 'old', 1)"
_OLD_KEY = (
    "INSERT INTO keys (id, key_hash, prefix, team_id, revision) "
    "VALUES ('key_old', 'hash-old', 'ck-Old', 'team_old', 1)"
)


def test_a_key_and_a_team_that_forbid_the_cache_come_back_so(database_url: str) -> None:
    team = Team(id="team_zdr", name="zero retention", created_at=NOW, cache=False)
    key = a_key(team_id="team_zdr", cache=False)

    async def scenario(store: Store) -> None:
        await store.save_team(team)
        await store.save_key(key)
        assert await store.get_team("team_zdr") == team
        assert await store.key_by_hash("hash-key_a") == key
        _, keys, teams = await store.changed_since(-1)
        assert (keys, teams) == ([key], [team])
        allowed = dataclasses.replace(key, cache=True)
        await store.save_key(allowed)
        assert await store.get_key("key_a") == allowed

    run_with_store(database_url, scenario)


def test_migration_9_keeps_existing_keys_and_teams_allowed(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite:///"):
        _sqlite_before_9(tmp_path / "calcifer.db")
    else:
        asyncio.run(_postgres_before_9(database_url))

    async def upgraded() -> tuple[list[int], VirtualKey | None, Team | None]:
        applied = await apply_migrations(database_url)
        store = await open_store(database_url)
        try:
            return applied, await store.get_key("key_old"), await store.get_team("team_old")
        finally:
            await store.aclose()

    applied, key, team = asyncio.run(upgraded())
    assert applied == [9]
    assert key is not None and key.cache is True
    assert team is not None and team.cache is True


def _sqlite_before_9(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute(_TRACKING)
    for migration in MIGRATIONS[:8]:
        for statement in migration.sql("sqlite"):
            connection.execute(statement)
        tracked = (migration.version, migration.name)
        connection.execute("INSERT INTO schema_migrations VALUES (?, ?, '')", tracked)
    connection.execute(_OLD_TEAM)
    connection.execute(_OLD_KEY)
    connection.commit()
    connection.close()


async def _postgres_before_9(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(_TRACKING)
        for migration in MIGRATIONS[:8]:
            for statement in migration.sql("postgresql"):
                await connection.execute(statement)
            await connection.execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, '')", migration.version, migration.name
            )
        await connection.execute(_OLD_TEAM)
        await connection.execute(_OLD_KEY)
    finally:
        await connection.close()
