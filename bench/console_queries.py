"""How fast the console's pages read a year of ledger data on the embedded SQLite store.

    .venv/bin/python -m bench.console_queries                  # 90 raw days × 10,000 requests
    .venv/bin/python -m bench.console_queries --per-day 2000   # a smaller tail, quicker to build

Builds a store in a temporary directory: one synthetic record per key, model and day for the 275
days past retention, rolled into `ledger_daily` by the store's own `expire` (as retention does),
then `--per-day` raw records a day for the last `--raw-days` days. Times the queries each page
runs through the admin services (median of `--repeat` runs) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from calcifer.domain.access import NO_LIMITS, AccessScope, ScopeKind
from calcifer.domain.ports import LedgerRecord, RequestQuery, SpendQuery
from calcifer.http.admin.stats import stats_query
from calcifer.store import Store, apply_migrations, open_store

KEYS = [f"key_{n:02d}" for n in range(20)]
MODELS = [
    ("gpt-4o-mini", "openai"),
    ("claude-sonnet", "anthropic"),
    ("gemini-flash", "google"),
    ("gpt-4o", "openai"),
]
DAYS = 365


def _record(n: int, started: datetime, rng: random.Random) -> LedgerRecord:
    model, provider = MODELS[n % len(MODELS)]
    stream = n % 3 == 0
    return LedgerRecord(
        request_id=f"req_{started.strftime('%Y%m%d')}_{n:07d}",
        started_at=started,
        route="chat",
        status=200 if n % 50 else 502,
        key_id=KEYS[n % len(KEYS)],
        team_id=f"team_{n % 4}",
        user=f"user_{n % 7}",
        requested_model=model,
        served_model=model,
        provider=provider,
        attempts=1,
        stream=stream,
        input_tokens=rng.randint(50, 4000),
        output_tokens=rng.randint(10, 800),
        cost_usd=Decimal(rng.randint(1, 20_000)).scaleb(-8),
        price_version="2026-11-01",
        latency_ms=rng.uniform(80, 4000),
        ttft_ms=rng.uniform(40, 900) if stream else None,
        overhead_ms=rng.uniform(0.2, 0.6),
    )


async def build(store: Store, now: datetime, raw_days: int, per_day: int) -> None:
    rng = random.Random(11)
    start = (now - timedelta(days=DAYS)).replace(hour=12, minute=0, second=0, microsecond=0)
    old = [
        _record(n, start + timedelta(days=day), rng)
        for day in range(DAYS - raw_days)
        for n in range(len(KEYS) * len(MODELS))
    ]
    for offset in range(0, len(old), 5000):
        await store.append(old[offset : offset + 5000])
    await store.expire(raw_days, now)  # into ledger_daily, as retention does
    tail_start = now - timedelta(days=raw_days)
    step = timedelta(days=raw_days) / (raw_days * per_day)
    batch: list[LedgerRecord] = []
    for n in range(raw_days * per_day):
        batch.append(_record(n, tail_start + step * n, rng))
        if len(batch) == 5000:
            await store.append(batch)
            batch = []
    await store.append(batch)


async def every_key_spent(store: Store, since: datetime) -> None:
    for key_id in KEYS:
        await store.spent(AccessScope(ScopeKind.KEY, key_id, None, NO_LIMITS), since)


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        await action()
        runs.append((time.perf_counter() - began) * 1000)
    return statistics.median(runs)


async def main(raw_days: int, per_day: int, repeat: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'calcifer.db'}"
        await apply_migrations(url)
        store = await open_store(url)
        began = time.perf_counter()
        await build(store, now, raw_days, per_day)
        size = (Path(directory) / "calcifer.db").stat().st_size / 1e6
        print(f"built in {time.perf_counter() - began:.0f} s: {raw_days * per_day:,} raw records "
              f"({raw_days} days), {DAYS - raw_days} days of rollups, {size:.0f} MB\n")  # fmt: skip
        month = now - timedelta(days=30)
        year = now - timedelta(days=DAYS)
        key = AccessScope(ScopeKind.KEY, KEYS[3], None, NO_LIMITS)
        queries: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("Overview, last hour (`/admin/stats`)", lambda: store.stats(stats_query("hour", now))),
            ("Overview, last day", lambda: store.stats(stats_query("day", now))),
            ("Overview, last week", lambda: store.stats(stats_query("week", now))),
            ("Spend, 30 days by day and key", lambda: store.spend(SpendQuery(("day", "key"), month, now))),
            ("Spend, a year by day and model", lambda: store.spend(SpendQuery(("day", "model"), year, now))),
            ("Keys page: one key's spend over 30 days", lambda: store.spent(key, month)),
            ("Keys page: 20 keys' spend over 30 days", lambda: every_key_spent(store, month)),
            ("Requests, first page (50)", lambda: store.requests(RequestQuery(limit=50))),
            (
                "Requests, one key and model",
                lambda: store.requests(RequestQuery(KEYS[3], model="gpt-4o", limit=50)),
            ),
        ]
        print("| query | median ms |\n|---|---|")
        for name, action in queries:
            print(f"| {name} | {await timed(action, repeat):.1f} |")
        await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.raw_days, options.per_day, options.repeat))
