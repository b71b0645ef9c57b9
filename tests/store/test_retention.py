"""Retention on a schedule: rolls up what is old, and is harmless run by several workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from calcifer.domain.ports import RequestQuery, SpendQuery
from calcifer.store import Retention, Store
from tests.store.conftest import run_with_store
from tests.store.test_ledger_writer import START, numbered_record


def test_workers_running_retention_together_roll_each_record_up_once(database_url: str) -> None:
    now = START + timedelta(days=40)

    async def scenario(store: Store) -> None:
        await store.append([numbered_record(n) for n in range(500)])
        before = await store.spend(SpendQuery(group_by=("day", "key")))
        workers = [Retention(store, retention_days=30, clock=lambda: now) for _ in range(4)]
        expired = await asyncio.gather(*(worker.run_once() for worker in workers))
        assert sorted(expired) == [0, 0, 0, 500]
        assert await store.spend(SpendQuery(group_by=("day", "key"))) == before
        assert (await store.requests(RequestQuery())).records == []

    run_with_store(database_url, scenario)

