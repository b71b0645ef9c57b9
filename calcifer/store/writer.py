"""`LedgerWriter`: takes ledger records off the request path and writes them in batches; what
the database cannot take waits in a bounded spool on disk and is replayed, in order, later."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from pathlib import Path

from loguru import logger

from calcifer.domain.ports import LedgerRecord, LedgerStore
from calcifer.errors import StoreUnavailable
from calcifer.settings import LedgerSettings
from calcifer.store.spool import Spool

__all__ = ["LedgerWriter"]

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
"""While the database is down, the spool is replayed after this long at most (doubling from
the first): a returning database is used within seconds, a down one is not hammered."""


class LedgerWriter:
    """One per process. Memory holds at most `queue_limit` records plus the batch in flight
    (and one spool segment while replaying); everything beyond waits on disk."""

    def __init__(self, store: LedgerStore, settings: LedgerSettings, spool: Spool) -> None:
        self._store = store
        self._settings = settings
        self._spool = spool
        self._queue: deque[LedgerRecord] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._database_up = True
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST_SECONDS
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, store: LedgerStore, settings: LedgerSettings, data_dir: Path) -> LedgerWriter:
        """Claim a spool directory under `<data_dir>/spool/` and start writing."""
        max_bytes = settings.spool_max_mb * 2**20
        spool = await asyncio.to_thread(Spool.claim, data_dir / "spool", max_bytes)
        writer = cls(store, settings, spool)
        writer._task = asyncio.get_running_loop().create_task(writer._run(), name="ledger-writer")
        return writer

    @property
    def queue_depth(self) -> int:
        """Records in memory, waiting for the next batch."""
        return len(self._queue)

    @property
    def spooled_records(self) -> int:
        """Records on disk, waiting for the database."""
        return self._spool.records

    @property
    def lost_records(self) -> int:
        """Records dropped because the spool was full (each one logged)."""
        return self._spool.lost_records

    def record(self, record: LedgerRecord) -> None:
        """Never blocks on the database and never raises (called on the request path)."""
        if len(self._queue) < self._settings.queue_limit:
            self._queue.append(record)
            if len(self._queue) >= self._settings.batch_size:
                self._wake.set()
            return
        # The database is slower than the traffic: this one goes to the spool's page cache.
        try:
            self._spool.write([record])
        except (OSError, TypeError, ValueError) as exc:
            logger.error("ledger record {} lost: the spool cannot be written ({})", record.request_id, exc)

    async def aclose(self) -> None:
        """Write what is queued (to the database, or to the spool if it is down); a spool
        that is not empty stays for the next start to replay."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        # Records may still arrive while the last ones are written: until none is left.
        while self._queue:
            if self._spool.records:
                await self._spill()
            else:
                await self._write_queue()
        await asyncio.to_thread(self._spool.close)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.flush_seconds)
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any one failure
                logger.exception("ledger writer: unexpected failure; trying again next interval")

    async def _flush(self) -> None:
        if not self._spool.records:
            await self._write_queue()
            return
        await self._spill()
        if time.monotonic() >= self._retry_at:
            await self._replay()

    async def _write_queue(self) -> None:
        while self._queue:
            size = min(self._settings.batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(size)]
            if not await self._write(batch):
                # Older records first, so the spool replays in the order records came.
                await self._to_spool(batch)
                await self._spill()
                return

    async def _replay(self) -> None:
        """Oldest segment first; records that arrive meanwhile join the spool behind them."""
        while self._spool.records and not self._closing:
            oldest = await asyncio.to_thread(self._spool.oldest)
            if oldest is None:
                return
            path, records = oldest
            for start in range(0, len(records), self._settings.batch_size):
                if not await self._write(records[start : start + self._settings.batch_size]):
                    return  # the segment stays; what was written already is not counted twice
            await asyncio.to_thread(self._spool.remove, path)
            logger.info("ledger spool: {} record(s) replayed into the database", len(records))
            await self._spill()

    async def _spill(self) -> None:
        if self._queue:
            records = list(self._queue)
            self._queue.clear()
            await self._to_spool(records)

    async def _to_spool(self, records: list[LedgerRecord], *, rejected: bool = False) -> None:
        try:
            await asyncio.to_thread(self._spool.set_aside if rejected else self._spool.write, records)
        except OSError as exc:
            logger.error("{} ledger record(s) lost: the spool cannot be written ({})", len(records), exc)

    async def _write(self, batch: list[LedgerRecord]) -> bool:
        """False when the database is unavailable (the caller spools the batch)."""
        try:
            await self._store.append(batch)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        except Exception as exc:  # noqa: BLE001 - one bad record must not hold back the rest
            logger.error("ledger: the database refused a batch ({}); writing it record by record", exc)
            return await self._one_by_one(batch)
        self._available()
        return True

    async def _one_by_one(self, batch: list[LedgerRecord]) -> bool:
        for record in batch:
            try:
                await self._store.append([record])
            except StoreUnavailable as exc:
                return self._unavailable(exc)
            except Exception as exc:  # noqa: BLE001 - set aside, never retried, never lost silently
                logger.error("ledger record {} refused by the database ({}): set aside in {}",
                             record.request_id, exc, self._spool.rejected_path)  # fmt: skip
                await self._to_spool([record], rejected=True)
        self._available()
        return True

    def _unavailable(self, exc: Exception) -> bool:
        if self._database_up:
            logger.error("ledger: the database cannot take records ({}); spooling to disk", exc)
        self._database_up = False
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_SECONDS)
        return False

    def _available(self) -> None:
        if not self._database_up:
            logger.info("ledger: the database takes records again")
        self._database_up = True
        self._retry_delay = RETRY_FIRST_SECONDS
