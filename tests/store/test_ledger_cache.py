"""Response cache results in the ledger, on SQLite and PostgreSQL: the overview's buckets and the
spend report count hits and misses and sum saved USD exactly, before and after retention rolls
the records into daily totals; migration 8 carries records written under migration 7."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from calcifer.domain.ports import LedgerRecord, SpendQuery, StatsQuery
from calcifer.store import Store, apply_migrations, open_store
from calcifer.store.schema import MIGRATIONS
from tests.store.conftest import run_with_store, sqlite_url
from tests.store.test_ledger_store import DAY_ONE, TINY, a_record

SAVED = Decimal("0.000000375")
"""A hit's saving: what the original answer cost (three TINY) less its free replay."""


def traffic() -> list[LedgerRecord]:
    """One record a minute for three days: every 4th a hit, every 4th a miss, every 4th
    bypassed, every 4th with the cache off; hits cost nothing and saved SAVED."""
    kinds: tuple[str | None, ...] = ("hit", "miss", "bypass", None)
    records = []
    for n in range(3 * 24 * 60):
        result = kinds[n % 4]
        record = a_record(n, key_id=f"key_{n % 3}", cache_result=result)
        if result == "hit":
            record = replace(record, cache_hit=True, cost_usd=Decimal(0), saved_usd=SAVED)
        records.append(record)
    return records


def test_the_overview_counts_hits_and_misses_and_sums_what_hits_saved(database_url: str) -> None:
    hour = StatsQuery(since=DAY_ONE, bucket_seconds=600, buckets=6)

    async def scenario(store: Store) -> None:
        await store.append(traffic())
        buckets = (await store.stats(hour)).buckets
        # Ten records a bucket (minute n after 9:00; n % 4 says what the cache did).
        assert [(b.requests, b.cache_hits, b.cache_misses) for b in buckets] == [
            (10, 3, 3), (10, 2, 2), (10, 3, 3), (10, 2, 2), (10, 3, 3), (10, 2, 2),
        ]  # fmt: skip
        assert [b.saved_usd for b in buckets] == [SAVED * b.cache_hits for b in buckets]
        assert buckets[0].cost_usd == TINY * 7  # the three hits cost nothing

    run_with_store(database_url, scenario)


def test_spend_reports_hits_and_saved_usd_and_retention_keeps_them(database_url: str) -> None:
    records = traffic()
    hits = len(records) // 4
    queries = [
        SpendQuery(group_by=()),
        SpendQuery(group_by=("day", "key")),
        SpendQuery(group_by=("model",), key_id="key_1", since=DAY_ONE.replace(hour=0) + timedelta(days=1)),
    ]

    async def scenario(store: Store) -> None:
        await store.append(records)
        before = [await store.spend(query) for query in queries]
        total = before[0].total
        # A hit is a request, and its cost (nothing, here) is spend; the saving is apart.
        assert total["requests"] == len(records)
        assert total["cost_usd"] == TINY * (len(records) - hits)
        assert (total["cache_hits"], total["saved_usd"]) == (hits, SAVED * hits)
        by_key_day = before[1].rows
        assert sum(row["cache_hits"] for row in by_key_day) == hits
        assert all(row["saved_usd"] == SAVED * row["cache_hits"] for row in by_key_day)
        assert await store.expire(1, DAY_ONE + timedelta(days=3)) > 2000
        assert [await store.spend(query) for query in queries] == before

    run_with_store(database_url, scenario)


def test_days_rolled_up_keep_their_hits_and_savings(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        await store.append(traffic())
        await store.expire(0, DAY_ONE + timedelta(days=4))  # everything rolled up
        daily = await store.spend(SpendQuery(group_by=("day",)))
        assert [row["cache_hits"] for row in daily.rows] == [225, 360, 360, 135]
        assert daily.total["saved_usd"] == SAVED * 1080

    run_with_store(database_url, scenario)


def test_migration_8_marks_migration_7_hits_and_their_savings(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    connection = sqlite3.connect(tmp_path / "calcifer.db")
    connection.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
    )
    for migration in MIGRATIONS[:7]:
        for statement in migration.sql("sqlite"):
            connection.execute(statement)
        tracked = (migration.version, migration.name)
        connection.execute("INSERT INTO schema_migrations VALUES (?, ?, '')", tracked)
    # Two records as migration 7 wrote them: a hit that saved 0.000000375 USD, and a miss.
    for request_id, hit, saved in (("req_hit", 1, str(SAVED)), ("req_old", 0, None)):
        connection.execute(
            "INSERT INTO ledger (request_id, started_at, day, route, status, stream, cost_usd, "
            "cost_pico, cost_estimated, cache_hit, saved_usd) "
            "VALUES (?, ?, '2026-11-01', 'chat', 200, 0, '0', 0, 0, ?, ?)",
            (request_id, 1_793_000_000_000_000, hit, saved),
        )
    connection.commit()
    connection.close()

    async def upgraded() -> tuple[list[int], dict[str, object]]:
        applied = await apply_migrations(url)
        store = await open_store(url)
        try:
            return applied, (await store.spend(SpendQuery(group_by=()))).total
        finally:
            await store.aclose()

    applied, total = asyncio.run(upgraded())
    assert applied == [migration.version for migration in MIGRATIONS[7:]]  # 8 and any later
    assert (total["requests"], total["cache_hits"], total["saved_usd"]) == (2, 1, SAVED)
