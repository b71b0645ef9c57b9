"""Durable state: keys, teams, the spend ledger and stored responses in SQLite (embedded) or PostgreSQL, the
migrations that shape them, and the writer that takes ledger records off the request path."""

from __future__ import annotations

from calcifer.store.migrate import apply_migrations
from calcifer.store.postgres_db import PostgresDatabase
from calcifer.store.responses import ResponseRecords
from calcifer.store.retention import Retention
from calcifer.store.sqlite_db import SqliteDatabase, sqlite_path
from calcifer.store.store import Store
from calcifer.store.writer import LedgerWriter

__all__ = ["LedgerWriter", "ResponseRecords", "Retention", "Store", "apply_migrations", "open_store"]


async def open_store(url: str) -> Store:
    """Connect to the database at `url` (`sqlite:///…` or `postgresql://…`), migrated or not:
    call `apply_migrations` first. Raises `StoreUnavailable` when it cannot be reached."""
    if url.startswith("sqlite:///"):
        sqlite = SqliteDatabase(sqlite_path(url))
        await sqlite.open()
        return Store(sqlite)
    if url.startswith(("postgresql://", "postgres://")):
        postgres = PostgresDatabase(url)
        await postgres.open()
        return Store(postgres)
    raise ValueError(f"database url: expected sqlite:///… or postgresql://…, not {url.split(':')[0]}")
