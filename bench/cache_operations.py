"""What operating the response cache costs: writing ledger records (now with `cache_result` and,
on SQLite, `saved_pico`), summing hits and savings beside the cost in the spend and overview
queries, sampling the `calcifer_cache_bytes` gauge, and reading it summed over workers.

    .venv/bin/python -m bench.cache_operations
    PYTHONPATH=<a checkout before issue 15's ops> .venv/bin/python -m bench.cache_operations --ledger-only

Prints one line per measurement: the median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from calcifer.domain.ports import LedgerRecord
from calcifer.store import apply_migrations, open_store

START = datetime(2026, 11, 1, tzinfo=UTC)
_HAS_RESULT = any(field.name == "cache_result" for field in dataclasses.fields(LedgerRecord))


def _record(n: int) -> LedgerRecord:
    hit = n % 3 == 0
    fields: dict[str, object] = dict(
        request_id=f"req_{n:08d}", started_at=START + timedelta(milliseconds=n), route="chat", status=200,
        key_id=f"key_{n % 20}", team_id="team_1", requested_model="gpt-4o", served_model="gpt-4o",
        provider="openai", attempts=1, input_tokens=120, output_tokens=40,
        cost_usd=Decimal(0) if hit else Decimal("0.00071"), price_version="2026-11-01",
        latency_ms=120.0, overhead_ms=0.4, cache_hit=hit, saved_usd=Decimal("0.00071") if hit else Decimal(0),
    )  # fmt: skip
    if _HAS_RESULT:
        fields["cache_result"] = "hit" if hit else "miss"
    return LedgerRecord(**fields)  # type: ignore[arg-type]


async def _append_seconds(records: list[LedgerRecord], batch: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        await apply_migrations(url)
        store = await open_store(url)
        try:
            started = time.perf_counter()
            for first in range(0, len(records), batch):
                await store.append(records[first : first + batch])
            return time.perf_counter() - started
        finally:
            await store.aclose()


def _queries() -> dict[str, tuple[str, str]]:
    """Each raw-record scan the cache columns were added to: (before, after) as SQL."""
    from calcifer.store.ledger import HITS, MISSES  # here: an older checkout has none (--ledger-only)

    spend = "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_pico)"
    overview = "COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(cost_pico)"
    scans = {
        # name: (groups, totals before, totals added)
        "spend by day and model": ("day, served_model", spend, f"{HITS}, SUM(saved_pico)"),
        "overview totals per 10 s bucket": ("started_at / 10000000", overview,
                                            f"{HITS}, {MISSES}, SUM(saved_pico)"),
    }  # fmt: skip
    sql = "SELECT {0}, {1} FROM ledger GROUP BY {0}"
    return {
        name: (sql.format(groups, before), sql.format(groups, f"{before}, {added}"))
        for name, (groups, before, added) in scans.items()
    }


async def _aggregate_ms(records: list[LedgerRecord], repeat: int) -> dict[str, tuple[float, float]]:
    """ms of each scan of `records` on SQLite, before and after the cache columns, timed side
    by side (so that the machine's load hits both alike)."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        await apply_migrations(url)
        store = await open_store(url)
        for first in range(0, len(records), 5000):
            await store.append(records[first : first + 5000])
        await store.aclose()
        connection = sqlite3.connect(Path(directory) / "bench.db")
        medians = {}
        for name, pair in _queries().items():
            timings: list[list[float]] = [[], []]
            for _ in range(repeat):
                for side, sql in enumerate(pair):
                    started = time.perf_counter()
                    connection.execute(sql).fetchall()
                    timings[side].append((time.perf_counter() - started) * 1000)
            medians[name] = (statistics.median(timings[0]), statistics.median(timings[1]))
        connection.close()
        return medians


def _per_call_us(call: Callable[[], object], times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        call()
    return (time.perf_counter() - started) / times * 1e6


def _gauge_costs(repeat: int) -> tuple[float, float]:
    """µs to sample the gauge, µs to read it summed (two workers' files), multiprocess mode."""
    with tempfile.TemporaryDirectory() as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            from calcifer.telemetry.metrics import GatewayMetrics

            metrics = GatewayMetrics()
            metrics.watch_cache_bytes(lambda: 123_456)
            metrics.sample_cache_bytes()
            # A second worker's live gauge file, as another process would have written it.
            own = next(Path(directory).glob("gauge_livesum_*.db"))
            (Path(directory) / "gauge_livesum_999999.db").write_bytes(own.read_bytes())
            assert metrics.cache_bytes() == 2 * 123_456
            sampled = (_per_call_us(metrics.sample_cache_bytes, 10_000) for _ in range(repeat))
            sample = statistics.median(sampled)
            read = statistics.median(_per_call_us(metrics.cache_bytes, 1_000) for _ in range(repeat))
            return sample, read
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100, help="records per append (the writer's batches)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ledger-only", action="store_true", help="for a checkout without the gauge")
    args = parser.parse_args()
    records = [_record(n) for n in range(args.records)]
    runs = [asyncio.run(_append_seconds(records, args.batch)) for _ in range(args.repeat)]
    per_record = statistics.median(runs) / args.records * 1e6
    print(f"ledger append, SQLite, batches of {args.batch}: {per_record:.2f} µs per record "
          f"(cache_result column: {'yes' if _HAS_RESULT else 'no'})")  # fmt: skip
    if not args.ledger_only:
        for name, (before, after) in asyncio.run(_aggregate_ms(records, args.repeat)).items():
            change = (after / before - 1) * 100
            print(f"{name}, {args.records:,} raw records: {before:.1f} ms without the cache columns, "
                  f"{after:.1f} ms with them ({change:+.0f} %)")  # fmt: skip
        sample, read = _gauge_costs(args.repeat)
        print(f"calcifer_cache_bytes: sample {sample:.2f} µs (once a second per worker); "
              f"summed read for the console {read:.1f} µs (two workers)")  # fmt: skip


if __name__ == "__main__":
    main()
