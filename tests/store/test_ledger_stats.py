"""The console's overview figures on SQLite and PostgreSQL: per-bucket counts, errors and exact
cost, nearest-rank percentiles from a bounded sample, deployments, and one record by id."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from calcifer.domain.ports import StatsQuery
from calcifer.store import Store
from calcifer.store.stats import percentile
from tests.store.conftest import run_with_store
from tests.store.test_ledger_store import DAY_ONE, a_record

HOUR = StatsQuery(since=DAY_ONE, bucket_seconds=600, buckets=6)


def test_buckets_count_requests_errors_and_exact_cost_and_take_percentiles(database_url: str) -> None:
    # Bucket 0 (09:00-09:10): ten answers with latencies 10..100 ms, streams with ttft 1..10 ms.
    answered = [
        a_record(i, started_at=DAY_ONE + timedelta(seconds=30 * i), latency_ms=10.0 * (i + 1),
                 ttft_ms=float(i + 1), cost_usd=Decimal("0.000000125"))
        for i in range(10)
    ]  # fmt: skip
    # Bucket 2 (09:20-09:30): one failure (counted, priced 0, not in the percentiles).
    failed = a_record(50, started_at=DAY_ONE + timedelta(minutes=25), status=502, latency_ms=9999.0,
                      served_model=None, provider=None, cost_usd=Decimal(0))  # fmt: skip
    # Outside the window: before it and after it.
    outside = [a_record(60, started_at=DAY_ONE - timedelta(seconds=1)),
               a_record(61, started_at=DAY_ONE + timedelta(hours=1))]  # fmt: skip

    async def scenario(store: Store) -> None:
        await store.append([*answered, failed, *outside])
        report = await store.stats(HOUR)
        assert [b.start for b in report.buckets] == [DAY_ONE + timedelta(minutes=10 * i) for i in range(6)]
        assert [b.requests for b in report.buckets] == [10, 0, 1, 0, 0, 0]
        assert [b.errors for b in report.buckets] == [0, 0, 1, 0, 0, 0]
        first = report.buckets[0]
        assert first.cost_usd == Decimal("0.00000125")
        assert (first.latency_p50_ms, first.latency_p99_ms) == (50.0, 100.0)
        assert (first.ttft_p50_ms, first.ttft_p99_ms) == (5.0, 10.0)
        assert report.buckets[2].latency_p50_ms is None  # failures are not latencies
        (deployment,) = report.deployments
        assert (deployment.model, deployment.provider, deployment.requests, deployment.errors) == (
            "gpt-4o-mini", "openai", 10, 0,
        )  # fmt: skip
        assert deployment.mean_latency_ms == 55.0

    run_with_store(database_url, scenario)


def test_a_busy_bucket_reads_at_most_its_sample_for_percentiles(database_url: str) -> None:
    records = [
        a_record(i, started_at=DAY_ONE + timedelta(seconds=i), latency_ms=float(i)) for i in range(300)
    ]
    bounded = StatsQuery(since=DAY_ONE, bucket_seconds=600, buckets=1, sample_per_bucket=100)

    async def scenario(store: Store) -> None:
        await store.append(records)
        (bucket,) = (await store.stats(bounded)).buckets
        assert bucket.requests == 300  # counted over every record
        assert bucket.latency_p99_ms == 98.0  # from the first 100 (0..99 ms) only

    run_with_store(database_url, scenario)


def test_one_record_is_found_by_its_request_id(database_url: str) -> None:
    record = a_record(7, stream=True, cost_estimated=True)

    async def scenario(store: Store) -> None:
        await store.append([record, a_record(8)])
        assert await store.record("req_00007") == record
        assert await store.record("req_nope") is None

    run_with_store(database_url, scenario)


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.99) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([float(v) for v in range(1, 101)], 0.99) == 99.0
