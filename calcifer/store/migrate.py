"""Apply the schema's migrations once, under a lock, so replicas starting together agree:
PostgreSQL takes an advisory lock, SQLite a write transaction (BEGIN IMMEDIATE)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from calcifer.store.postgres_db import postgres_errors
from calcifer.store.schema import MIGRATIONS
from calcifer.store.sqlite_db import connect, sqlite_errors, sqlite_path

__all__ = ["MIGRATION_LOCK", "apply_migrations"]

MIGRATION_LOCK = 7_311_010
"""The PostgreSQL advisory lock every migrator takes (any fixed number of our own)."""

_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


async def apply_migrations(url: str) -> list[int]:
    """Bring the database at `url` up to the newest schema; the versions applied now (none
    when it was current). Raises `StoreUnavailable` when the database cannot be reached."""
    if url.startswith("sqlite:///"):
        return await asyncio.to_thread(_migrate_sqlite, sqlite_path(url))
    with postgres_errors():
        return await _migrate_postgres(url)


def _migrate_sqlite(path: Path) -> list[int]:
    with sqlite_errors():
        connection = connect(path)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                applied = _apply_sqlite(connection)
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return applied
        finally:
            connection.close()


def _apply_sqlite(connection: sqlite3.Connection) -> list[int]:
    connection.execute(_TRACKING)
    done = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.sql("sqlite"):
            connection.execute(statement)
        connection.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, _now()),
        )
        applied.append(migration.version)
    return applied


async def _migrate_postgres(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        # Held for the session: a second migrator waits here, then finds nothing to do.
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            return await _apply_postgres(connection)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await connection.close()


async def _apply_postgres(connection: asyncpg.Connection) -> list[int]:
    await connection.execute(_TRACKING)
    done = {row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        async with connection.transaction():
            for statement in migration.sql("postgresql"):
                await connection.execute(statement)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                _now(),
            )
        applied.append(migration.version)
    return applied


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
