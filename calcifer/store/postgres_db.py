"""PostgreSQL through a small asyncpg pool per worker; `?` placeholders become `$n`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

import asyncpg

from calcifer.errors import StoreUnavailable
from calcifer.store.database import Codec, Result, Statement

__all__ = ["PostgresDatabase", "numbered", "postgres_errors"]

POOL_MIN = 1
POOL_MAX = 4
COMMAND_TIMEOUT_SECONDS = 10.0
"""A statement slower than this counts as the database being unavailable."""

_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, too many connections
)


@contextmanager
def postgres_errors() -> Iterator[None]:
    """asyncpg's errors, translated once: a constraint is the caller's mistake (ValueError);
    a lost or refused connection, a timeout, a server going down, an outage."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise ValueError(f"conflicts with a stored row: {exc}") from exc
    except _OUTAGES as exc:
        raise StoreUnavailable(f"PostgreSQL cannot be reached: {exc}") from exc


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1`, `$2`, … (our SQL has no `?` in literals)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class PostgresDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self.codec = Codec("postgresql")
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        with postgres_errors():
            self._pool = await asyncpg.create_pool(
                self.url, min_size=POOL_MIN, max_size=POOL_MAX, command_timeout=COMMAND_TIMEOUT_SECONDS
            )

    async def run(self, statements: Sequence[Statement], *, write: bool = True) -> list[Result]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        isolation: Literal["read_committed", "repeatable_read"] = (
            "read_committed" if write else "repeatable_read"
        )
        with postgres_errors():
            async with self._pool.acquire() as connection:
                if len(statements) == 1 and not write:
                    # One read is consistent by itself: spare the BEGIN and COMMIT round trips.
                    return [await _execute(connection, statements[0])]
                async with connection.transaction(isolation=isolation, readonly=not write):
                    return [await _execute(connection, statement) for statement in statements]

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _execute(connection: Any, statement: Statement) -> Result:
    sql = numbered(statement.sql)
    if statement.many:
        await connection.executemany(sql, statement.params)
        return Result([], len(statement.params))
    rows = await connection.fetch(sql, *statement.params)
    return Result(list(rows), len(rows))
