"""`Retention`: about once an hour, roll raw ledger records past `retention_days` into daily
totals (or delete stored responses past theirs). Every worker may run it: `expire` serialises
itself in the database (an advisory lock on PostgreSQL, a write transaction on SQLite), so a
second run finds nothing left to do."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from loguru import logger

__all__ = ["Expiring", "Retention"]

EVERY_SECONDS = 3600.0


class Expiring(Protocol):
    """Records that age out (`LedgerStore`, `ResponseStore`)."""

    async def expire(self, keep_days: int, now: datetime) -> int: ...


class Retention:
    def __init__(
        self,
        store: Expiring,
        retention_days: int,
        every_seconds: float = EVERY_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        what: str = "ledger",
    ) -> None:
        self._store = store
        self._what = what
        self._days = retention_days
        self._every = every_seconds
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Nothing to do with `retention_days` 0 (keep every record)."""
        if self._days > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self._what}-retention")

    async def run_once(self) -> int:
        """Records rolled up now (0 when another worker just did it, or on a database error)."""
        try:
            expired = await self._store.expire(self._days, self._clock())
        except Exception as exc:  # noqa: BLE001 - retention waits for the next hour, never stops
            logger.warning("{} retention failed, trying again in an hour: {}", self._what, exc)
            return 0
        if expired:
            logger.info("{} retention: {} record(s) older than {} days expired", self._what, expired,
                        self._days)  # fmt: skip
        return expired

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # Spread the workers over the hour so they rarely queue behind one another's lock.
        await asyncio.sleep(random.uniform(0.05, 1.0) * self._every)
        while True:
            await self.run_once()
            await asyncio.sleep(self._every)
