"""PostgreSQL stopped under load, then started again: the ledger writer keeps memory bounded,
spools what the database cannot take, and replays it in order once it answers — every record
ends in the database exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from calcifer.domain.ports import SpendQuery
from calcifer.errors import StoreUnavailable
from calcifer.settings import LedgerSettings
from calcifer.store import LedgerWriter, Store
from tests.servers import PostgresServer, start_postgres
from tests.store.conftest import create_database, run_with_store
from tests.store.test_ledger_writer import numbered_record, wait_until_recorded

RATE_PER_SECOND = 1000


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A server of this module's own: its tests stop and start it."""
    server = start_postgres(tmp_path_factory.mktemp("outage"))
    yield server
    server.close()


async def arrival_order(url: str) -> list[str]:
    """Request ids in the order they were first inserted: by transaction, then by position
    (an append-only table, so physical order within a transaction is insertion order)."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT request_id FROM ledger ORDER BY xmin::text::bigint, ctid")
    finally:
        await connection.close()
    return [row[0] for row in rows]


def test_database_stopped_under_load_then_restarted(own_postgres: PostgresServer, tmp_path: Path) -> None:
    url = asyncio.run(create_database(own_postgres.url))
    settings = LedgerSettings(batch_size=50, flush_seconds=0.05, queue_limit=200)
    total = 4000

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        deepest = 0
        spooled_most = 0
        stopping: asyncio.Future[None] | None = None
        for n in range(total):
            # The server stops in another thread while records keep coming. It is started from
            # this thread (the server dies with the thread that started it), pausing the load.
            if n == 1000:
                stopping = asyncio.get_running_loop().run_in_executor(None, own_postgres.stop)
            if n == 2500:
                assert stopping is not None
                await stopping
                own_postgres.start()
            writer.record(numbered_record(n))
            deepest = max(deepest, writer.queue_depth)
            spooled_most = max(spooled_most, writer.spooled_records)
            if n % 10 == 0:
                await asyncio.sleep(10 / RATE_PER_SECOND)
        assert deepest <= settings.queue_limit
        assert spooled_most > 0, "the outage should have sent records to the spool"
        await wait_until_recorded(store, total, seconds=30)
        assert writer.spooled_records == 0 and writer.queue_depth == 0 and writer.lost_records == 0
        await writer.aclose()

    run_with_store(url, scenario)
    order = asyncio.run(arrival_order(url))
    assert order == [f"req_{n:06d}" for n in range(total)]


def test_records_queued_at_shutdown_with_the_database_down_are_written_by_the_next_start(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    url = asyncio.run(create_database(own_postgres.url))
    settings = LedgerSettings(batch_size=100, flush_seconds=0.05)

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        await asyncio.to_thread(own_postgres.stop)
        try:
            with pytest.raises(StoreUnavailable):
                await store.revision()
            for n in range(300):
                writer.record(numbered_record(n))
            await writer.aclose()
            assert writer.spooled_records == 300
        finally:
            own_postgres.start()  # from this thread: the server dies with the thread that started it
        assert await store.revision() == 0  # the pool reconnects by itself
        writer = await LedgerWriter.start(store, settings, tmp_path)
        await wait_until_recorded(store, 300, seconds=20)
        spend = await store.spend(SpendQuery(group_by=()))
        assert spend.total["cost_usd"] == 300 * Decimal("0.000000125")
        await writer.aclose()

    run_with_store(url, scenario)
