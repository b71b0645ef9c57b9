"""The ledger writer: records reach the database in batches off the request path, `aclose`
writes what is left, and a full queue spills to disk instead of growing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from calcifer.domain.ports import LedgerRecord, RequestQuery, SpendQuery
from calcifer.settings import LedgerSettings
from calcifer.store import LedgerWriter, Store, apply_migrations, open_store
from calcifer.store.spool import record_from_json
from tests.store.conftest import run_with_store, sqlite_url

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def numbered_record(n: int) -> LedgerRecord:
    return LedgerRecord(
        request_id=f"req_{n:06d}",
        started_at=START + timedelta(milliseconds=n),
        route="chat",
        status=200,
        key_id="key_a",
        cost_usd=Decimal("0.000000125"),
    )


async def recorded(store: Store) -> int:
    requests = (await store.spend(SpendQuery(group_by=()))).total["requests"]
    assert isinstance(requests, int)
    return requests


async def wait_until_recorded(store: Store, expected: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await recorded(store) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{await recorded(store)} records in the database, not {expected}")


def test_records_reach_the_database_in_batches_while_the_writer_runs(
    database_url: str, tmp_path: Path
) -> None:
    settings = LedgerSettings(batch_size=100, flush_seconds=0.05)

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        for n in range(1000):
            writer.record(numbered_record(n))
        assert writer.queue_depth <= 1000
        await wait_until_recorded(store, 1000)
        assert writer.queue_depth == 0 and writer.spooled_records == 0
        await writer.aclose()

    run_with_store(database_url, scenario)


def test_a_full_batch_is_written_at_once_without_waiting_for_the_interval(tmp_path: Path) -> None:
    settings = LedgerSettings(batch_size=50, flush_seconds=3600)

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        for n in range(50):
            writer.record(numbered_record(n))
        await wait_until_recorded(store, 50, seconds=3)
        await writer.aclose()

    run_with_store(sqlite_url(tmp_path), scenario)


def test_aclose_writes_every_queued_record(database_url: str, tmp_path: Path) -> None:
    settings = LedgerSettings(batch_size=10_000, flush_seconds=3600)

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        for n in range(777):
            writer.record(numbered_record(n))
        await asyncio.sleep(0.05)
        assert await recorded(store) == 0
        await writer.aclose()
        assert await recorded(store) == 777

    run_with_store(database_url, scenario)


def test_a_full_queue_spills_to_disk_and_every_record_arrives_once(tmp_path: Path) -> None:
    # The writer does not flush (an hour's interval): past 100 queued records, memory stops growing.
    slow = LedgerSettings(batch_size=10_000, flush_seconds=3600, queue_limit=100)
    url = sqlite_url(tmp_path)

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, slow, tmp_path)
        for n in range(1000):
            writer.record(numbered_record(n))
            assert writer.queue_depth <= 100
        assert writer.spooled_records == 900
        await writer.aclose()  # the spool is not empty: the queue joins it, in order
        assert writer.spooled_records == 1000 and await recorded(store) == 0

        # The next start replays the spool the previous one left.
        fast = LedgerSettings(batch_size=300, flush_seconds=0.02)
        writer = await LedgerWriter.start(store, fast, tmp_path)
        assert writer.spooled_records == 1000
        await wait_until_recorded(store, 1000)
        page = await store.requests(RequestQuery(limit=2000))
        assert sorted(r.request_id for r in page.records) == [f"req_{n:06d}" for n in range(1000)]
        assert writer.spooled_records == 0
        await writer.aclose()

    run_with_store(url, scenario)


def test_two_writers_on_one_machine_keep_separate_spools(tmp_path: Path) -> None:
    settings = LedgerSettings(batch_size=10, flush_seconds=3600, queue_limit=5)

    async def scenario() -> None:
        await apply_migrations(sqlite_url(tmp_path))
        store = await open_store(sqlite_url(tmp_path))
        first = await LedgerWriter.start(store, settings, tmp_path)
        second = await LedgerWriter.start(store, settings, tmp_path)
        for n in range(10):
            first.record(numbered_record(n))
            second.record(numbered_record(100 + n))
        assert (first.spooled_records, second.spooled_records) == (5, 5)
        assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["w0", "w1"]
        await first.aclose()
        await second.aclose()
        await store.aclose()

    asyncio.run(scenario())


def test_a_record_the_database_refuses_is_set_aside_and_the_rest_of_its_batch_is_written(
    database_url: str, tmp_path: Path
) -> None:
    settings = LedgerSettings(batch_size=100, flush_seconds=0.02)
    poison = replace(numbered_record(50), input_tokens=2**70)  # fits no integer column

    async def scenario(store: Store) -> None:
        writer = await LedgerWriter.start(store, settings, tmp_path)
        for n in range(100):
            writer.record(poison if n == 50 else numbered_record(n))
        await wait_until_recorded(store, 99)
        await writer.aclose()
        rejected = next((tmp_path / "spool").glob("w*/rejected.jsonl")).read_text().splitlines()
        assert [record_from_json(line).request_id for line in rejected] == ["req_000050"]
        assert writer.spooled_records == 0

    run_with_store(database_url, scenario)
