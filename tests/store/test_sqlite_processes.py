"""Two worker processes appending to one SQLite file at once: every record lands, once."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from calcifer.domain.ports import SpendQuery
from calcifer.store import apply_migrations, open_store
from tests.store.conftest import sqlite_url
from tests.store.test_ledger_writer import numbered_record

BATCHES = 40
BATCH = 50


def append_many(url: str, offset: int, start: object) -> None:
    async def main() -> None:
        store = await open_store(url)
        start.wait()  # type: ignore[attr-defined]
        for batch in range(BATCHES):
            first = offset + batch * BATCH
            await store.append([numbered_record(n) for n in range(first, first + BATCH)])
        await store.aclose()

    asyncio.run(main())


def test_two_processes_append_to_one_sqlite_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    asyncio.run(apply_migrations(url))
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=append_many, args=(url, offset, start)) for offset in (0, 100_000)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    async def total() -> object:
        store = await open_store(url)
        report = await store.spend(SpendQuery(group_by=()))
        await store.aclose()
        return report.total["requests"]

    assert asyncio.run(total()) == 2 * BATCHES * BATCH
