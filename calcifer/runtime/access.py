"""Keys, budgets, limits and the ledger for one worker: built when it starts, closed when it stops.

    store (SQLite file or PostgreSQL, migrated under a lock) ─┬─ ledger writer (batches, spool)
                                                              ├─ stored responses (previous_response_id)
                                                              ├─ key directory (refreshed every second)
    counters (this worker / shared memory / Redis) ───────────┴─ admission (reserve, settle)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loguru import logger

from calcifer.domain.access import AccessScope, BudgetPeriod
from calcifer.domain.admission import Admission
from calcifer.domain.authentication import Authenticator
from calcifer.domain.key_directory import KeyDirectory
from calcifer.domain.ports import Counters, ResponseStore
from calcifer.settings import Settings
from calcifer.state.counters import build_counters
from calcifer.state.machine import MachineState
from calcifer.store import LedgerWriter, ResponseRecords, Retention, Store, apply_migrations, open_store

__all__ = ["AccessRuntime"]


@dataclass(slots=True)
class AccessRuntime:
    store: Store
    writer: LedgerWriter
    retention: Retention
    responses: ResponseStore
    response_retention: Retention
    directory: KeyDirectory | None
    counters: Counters | None
    admission: Admission
    authenticator: Authenticator
    hashing_secret: bytes = field(repr=False)
    refresh_seconds: float = 1.0
    fail_mode: str = "closed"
    _refresher: asyncio.Task[None] | None = None

    @property
    def key_store(self) -> Store:
        return self.store

    @property
    def ledger_store(self) -> Store:
        return self.store

    @classmethod
    async def open(cls, settings: Settings, machine: MachineState | None) -> AccessRuntime:
        url = settings.database_url
        if url.startswith("sqlite:///"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        await apply_migrations(url)
        store = await open_store(url)
        secret = settings.key_hash_secret or await store.hashing_secret()
        writer = await LedgerWriter.start(store, settings.ledger, settings.data_dir)
        directory = KeyDirectory(store, secret) if settings.keys_required else None
        counters = _counters(settings, machine, store) if directory is not None else None
        responses = ResponseRecords(store.database, settings.ledger.responses_retention_days)
        runtime = cls(
            store=store,
            writer=writer,
            retention=Retention(store, settings.ledger.retention_days),
            responses=responses,
            response_retention=Retention(
                responses, settings.ledger.responses_retention_days, what="responses"
            ),
            directory=directory,
            counters=counters,
            admission=Admission(counters, settings.access.max_hold_usd, settings.access.fail_mode == "open"),
            authenticator=Authenticator(directory, settings.master_key),
            hashing_secret=secret,
            refresh_seconds=settings.access.refresh_seconds,
            fail_mode=settings.access.fail_mode,
        )
        await runtime._start()
        return runtime

    def snapshot(self) -> dict[str, object]:
        """What `/health?detail=1` shows of keys, limits and the ledger on this worker."""
        directory = self.directory
        return {
            "keys_required": directory is not None,
            "database": self.store.dialect,
            "counters": type(self.counters).__name__ if self.counters is not None else None,
            "fail_mode": self.fail_mode,
            "limits_unavailable": self.admission.limits_unavailable,
            "keys_revision": directory.revision if directory is not None else None,
            "keys_refreshed_seconds_ago": (
                round(time.monotonic() - directory.last_refresh, 3)
                if directory is not None and directory.last_refresh is not None
                else None
            ),
            "ledger_queue_depth": self.writer.queue_depth,
            "ledger_spooled_records": self.writer.spooled_records,
            "ledger_lost_records": self.writer.lost_records,
        }

    async def _start(self) -> None:
        if self.directory is not None:
            await self.directory.refresh()
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever(self.directory))
        self.retention.start()
        self.response_retention.start()

    async def _refresh_forever(self, directory: KeyDirectory) -> None:
        failing_since: float | None = None
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await directory.refresh()
            except Exception as exc:  # noqa: BLE001 - keys keep working from memory; said once
                if failing_since is None:
                    failing_since = time.monotonic()
                    logger.error("key store unreachable; serving keys as last seen: {}", exc)
                continue
            if failing_since is not None:
                logger.info("key store reachable again after {:.0f} s", time.monotonic() - failing_since)
                failing_since = None

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.retention.aclose()
        await self.response_retention.aclose()
        await self.writer.aclose()
        if self.counters is not None:
            await self.counters.aclose()
        await self.store.aclose()


def _counters(settings: Settings, machine: MachineState | None, store: Store) -> Counters:
    async def seed(scope: AccessScope, period: BudgetPeriod, since: datetime | None) -> Decimal:
        return await store.spent(scope, since)

    return build_counters(settings.access.redis_url, machine, seed, settings.access.hold_lease_seconds)
