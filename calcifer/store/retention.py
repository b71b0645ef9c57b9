"""`Retention`: about once an hour, roll raw ledger records past `retention_days` into daily
totals. Every worker may run it: `expire` serialises itself in the database (an advisory lock
on PostgreSQL, a write transaction on SQLite), so a second run finds nothing left to do."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime

from loguru import logger

from calcifer.domain.ports import LedgerStore

__all__ = ["Retention"]

EVERY_SECONDS = 3600.0


class Retention:
    def __init__(
        self,
        store: LedgerStore,
        retention_days: int,
        every_seconds: float = EVERY_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._days = retention_days
        self._every = every_seconds
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Nothing to do with `retention_days` 0 (keep every record)."""
        if self._days > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ledger-retention")

    async def run_once(self) -> int:
        """Records rolled up now (0 when another worker just did it, or on a database error)."""
        try:
            expired = await self._store.expire(self._days, self._clock())
        except Exception as exc:  # noqa: BLE001 - retention waits for the next hour, never stops
            logger.warning("ledger retention failed, trying again in an hour: {}", exc)
            return 0
        if expired:
            logger.info("ledger retention: {} record(s) older than {} days rolled into daily totals",
                        expired, self._days)  # fmt: skip
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
