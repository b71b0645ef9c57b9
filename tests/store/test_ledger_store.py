"""The ledger on SQLite and PostgreSQL: appends count once, money sums exactly, pages walk
newest first, and retention moves old records into rollups without changing any total."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from calcifer.domain.access import NO_LIMITS, AccessScope, ScopeKind
from calcifer.domain.ports import LedgerRecord, RequestQuery, SpendQuery
from calcifer.errors import InvalidRequest
from calcifer.store import Store
from tests.store.conftest import run_with_store

DAY_ONE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TINY = Decimal("0.000000125")


def scope(kind: ScopeKind, scope_id: str) -> AccessScope:
    return AccessScope(kind, scope_id, None, NO_LIMITS)


def a_record(n: int, **changes: object) -> LedgerRecord:
    fields: dict[str, object] = {
        "request_id": f"req_{n:05d}",
        "started_at": DAY_ONE + timedelta(minutes=n),
        "route": "chat",
        "status": 200,
        "key_id": "key_a",
        "team_id": "team_1",
        "user": "ana",
        "requested_model": "fast",
        "served_model": "gpt-4o-mini",
        "provider": "openai",
        "attempts": 1,
        "input_tokens": 10,
        "cached_input_tokens": 2,
        "cache_write_tokens": 1,
        "reasoning_tokens": 3,
        "output_tokens": 5,
        "cost_usd": TINY,
        "price_version": "2025-11-01",
        "latency_ms": 12.5,
        "ttft_ms": 3.25,
        "overhead_ms": 0.4,
    }
    return LedgerRecord(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_record_comes_back_whole(database_url: str) -> None:
    record = a_record(1, stream=True, cost_estimated=True, error_code="upstream_timeout", status=504,
                      cost_usd=Decimal("1.234567890123"))  # fmt: skip

    async def scenario(store: Store) -> None:
        await store.append([record])
        page = await store.requests(RequestQuery())
        assert page.records == [record] and page.next_cursor is None

    run_with_store(database_url, scenario)


def test_a_replayed_batch_never_counts_twice(database_url: str) -> None:
    batch = [a_record(n, cost_usd=Decimal("0.10")) for n in range(20)]

    async def scenario(store: Store) -> None:
        await store.append(batch)
        await store.append([*batch[10:], a_record(20, cost_usd=Decimal("0.10"))])
        report = await store.spend(SpendQuery(group_by=()))
        assert report.total["requests"] == 21
        assert report.total["cost_usd"] == Decimal("2.10")

    run_with_store(database_url, scenario)


def test_spend_sums_tiny_costs_exactly_in_every_grouping(database_url: str) -> None:
    records = [
        a_record(n, served_model="gpt-4o-mini" if n % 3 else "claude-haiku",
                 provider="openai" if n % 3 else "anthropic", key_id=f"key_{n % 2}")
        for n in range(3000)
    ]  # fmt: skip

    async def scenario(store: Store) -> None:
        for start in range(0, len(records), 500):
            await store.append(records[start : start + 500])
        total = await store.spend(SpendQuery(group_by=()))
        assert total.total == {"requests": 3000, "input_tokens": 39_000, "output_tokens": 24_000,
                               "cost_usd": Decimal("0.000375"), "cache_hits": 0, "saved_usd": 0}  # fmt: skip
        by_model = await store.spend(SpendQuery(group_by=("model", "provider")))
        assert by_model.rows == [
            {"model": "claude-haiku", "provider": "anthropic", "requests": 1000, "input_tokens": 13_000,
             "output_tokens": 8_000, "cost_usd": Decimal("0.000125"), "cache_hits": 0, "saved_usd": 0},
            {"model": "gpt-4o-mini", "provider": "openai", "requests": 2000, "input_tokens": 26_000,
             "output_tokens": 16_000, "cost_usd": Decimal("0.00025"), "cache_hits": 0, "saved_usd": 0},
        ]  # fmt: skip
        by_day = await store.spend(SpendQuery(group_by=("day",), key_id="key_1"))
        assert [(row["day"], row["requests"], row["cost_usd"]) for row in by_day.rows] == [
            ("2026-11-01", 450, Decimal("0.00005625")),
            ("2026-11-02", 720, Decimal("0.00009")),
            ("2026-11-03", 330, Decimal("0.00004125")),
        ]
        assert by_day.total["cost_usd"] == 1500 * TINY

    run_with_store(database_url, scenario)


def test_spent_is_a_key_or_a_teams_cost_since_a_time(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        await store.append([a_record(n, cost_usd=Decimal("0.5"), team_id="team_1" if n < 3 else None)
                            for n in range(5)])  # fmt: skip
        await store.append([a_record(9, key_id="key_b", cost_usd=Decimal("7"))])
        assert await store.spent(scope(ScopeKind.KEY, "key_a"), None) == Decimal("2.5")
        assert await store.spent(scope(ScopeKind.KEY, "key_a"), DAY_ONE + timedelta(minutes=3)) == 1
        assert await store.spent(scope(ScopeKind.TEAM, "team_1"), None) == Decimal("8.5")
        assert await store.spent(scope(ScopeKind.KEY, "key_nobody"), None) == 0

    run_with_store(database_url, scenario)


def test_pages_walk_newest_first_without_gaps_or_repeats(database_url: str) -> None:
    # Pairs of records share a start time: the cursor must still tell them apart.
    records = [a_record(n, started_at=DAY_ONE + timedelta(seconds=n // 2)) for n in range(25)]

    async def scenario(store: Store) -> None:
        await store.append(records)
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await store.requests(RequestQuery(limit=10, cursor=cursor))
            seen += [record.request_id for record in page.records]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == 3
        expected = sorted(records, key=lambda r: (r.started_at, r.request_id), reverse=True)
        assert seen == [record.request_id for record in expected]

    run_with_store(database_url, scenario)


def test_requests_are_filtered_by_key_model_status_and_time(database_url: str) -> None:
    records = [
        a_record(0), a_record(1, key_id="key_b"), a_record(2, status=502, served_model=None),
        a_record(3, requested_model="smart", served_model="gpt-4o"), a_record(4),
    ]  # fmt: skip

    async def scenario(store: Store) -> None:
        await store.append(records)

        async def ids(query: RequestQuery) -> list[str]:
            return [record.request_id for record in (await store.requests(query)).records]

        assert await ids(RequestQuery(key_id="key_b")) == ["req_00001"]
        assert await ids(RequestQuery(status=502)) == ["req_00002"]
        assert await ids(RequestQuery(model="smart")) == ["req_00003"]
        assert await ids(RequestQuery(model="gpt-4o")) == ["req_00003"]
        window = RequestQuery(since=DAY_ONE + timedelta(minutes=1), until=DAY_ONE + timedelta(minutes=3))
        assert await ids(window) == ["req_00002", "req_00001"]

    run_with_store(database_url, scenario)


def test_retention_rolls_old_records_up_and_totals_do_not_change(database_url: str) -> None:
    # 4000 records, one a minute from 1 November: about three days, costs of every size.
    records = [a_record(n, key_id=f"key_{n % 3}", cost_usd=TINY * (n % 7)) for n in range(4000)]
    queries = [
        SpendQuery(group_by=()),
        SpendQuery(group_by=("day", "key", "team", "user", "model", "provider")),
        SpendQuery(group_by=("key",), since=DAY_ONE.replace(hour=0) + timedelta(days=1)),
        SpendQuery(group_by=("model",), key_id="key_1", until=DAY_ONE + timedelta(days=2)),
    ]
    now = DAY_ONE + timedelta(days=3, hours=1)  # 4 November: keep 1 day → 1–2 November roll up

    async def scenario(store: Store) -> None:
        await store.append(records)
        before = [await store.spend(query) for query in queries]
        spent_before = await store.spent(scope(ScopeKind.KEY, "key_1"), None)
        expired = await store.expire(1, now)
        assert expired == 24 * 60 - 9 * 60 + 24 * 60  # what started before 3 November
        assert [await store.spend(query) for query in queries] == before
        assert await store.spent(scope(ScopeKind.KEY, "key_1"), None) == spent_before
        assert await store.expire(1, now) == 0
        assert [await store.spend(query) for query in queries] == before
        oldest = (await store.requests(RequestQuery(limit=5000))).records[-1]
        assert oldest.started_at == datetime(2026, 11, 3, tzinfo=UTC)
        # A late record for an already rolled-up day is added to the same rollup next time.
        late = replace(records[0], request_id="req_late")
        await store.append([late])
        assert await store.expire(1, now) == 1
        assert (await store.spend(queries[0])).total["requests"] == 4001

    run_with_store(database_url, scenario)


def test_an_unknown_group_is_a_value_error_and_a_forged_cursor_a_bad_request(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(ValueError, match="group_by"):
            await store.spend(SpendQuery(group_by=("colour",)))
        for forged in ("not-a-cursor", "bm90LWEtbnVtYmVyOnJlcQ", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6cg"):
            with pytest.raises(InvalidRequest) as refused:
                await store.requests(RequestQuery(cursor=forged))
            assert refused.value.param == "cursor"

    run_with_store(database_url, scenario)
