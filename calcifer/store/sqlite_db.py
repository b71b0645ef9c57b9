"""SQLite on one dedicated thread per worker: WAL, `synchronous=NORMAL`, a busy timeout for
the other workers' writes; the event loop only ever awaits the thread."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import ParamSpec, TypeVar

from calcifer.errors import StoreUnavailable
from calcifer.store.database import Codec, Result, Statement

__all__ = ["SqliteDatabase", "sqlite_errors", "sqlite_path"]

P = ParamSpec("P")
T = TypeVar("T")

BUSY_TIMEOUT_MS = 5_000
"""How long a write waits for another worker's transaction on the same file."""


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/file.db` or `sqlite:////absolute/file.db`."""
    return Path(url.removeprefix("sqlite:///"))


@contextmanager
def sqlite_errors() -> Iterator[None]:
    """sqlite3's errors, translated once: a constraint is the caller's mistake (ValueError);
    anything operational (locked past the timeout, unreadable file, full disk) is an outage."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise ValueError(f"conflicts with a stored row: {exc}") from exc
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
        raise StoreUnavailable(f"the SQLite database cannot be used: {exc}") from exc


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE for writes, so two
    # workers never deadlock upgrading a read lock).
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(connection)
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def _use_wal(connection: sqlite3.Connection) -> None:
    """WAL is a property of the file, set by the first connection. Switching needs the file to
    itself, and SQLite answers "locked" at once (no busy timeout) while another worker has it
    open: wait for that worker here, on the database thread."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteDatabase:
    """One connection, used only from its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.codec = Codec("sqlite")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calcifer-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._in_thread(self._connect)

    async def run(self, statements: Sequence[Statement], *, write: bool = True) -> list[Result]:
        return await self._in_thread(self._run, statements, write)

    async def aclose(self) -> None:
        await self._in_thread(self._close)
        self._executor.shutdown(wait=True)

    async def _in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    def _connect(self) -> None:
        with sqlite_errors():
            if self._connection is None:
                self._connection = connect(self.path)

    def _run(self, statements: Sequence[Statement], write: bool) -> list[Result]:
        self._connect()
        connection = self._connection
        assert connection is not None
        with sqlite_errors():
            if len(statements) == 1 and not write:
                return [_execute(connection, statements[0])]  # one read is consistent by itself
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                results = [_execute(connection, statement) for statement in statements]
            except BaseException:
                if connection.in_transaction:  # SQLite may have rolled back already
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return results

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _execute(connection: sqlite3.Connection, statement: Statement) -> Result:
    if statement.many:
        cursor = connection.executemany(statement.sql, statement.params)
        return Result([], cursor.rowcount)
    cursor = connection.execute(statement.sql, tuple(statement.params))
    return Result(cursor.fetchall(), cursor.rowcount)
