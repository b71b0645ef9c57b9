"""The console's overview: requests, errors, cost, cache hits and latency percentiles per time
bucket, and each deployment's error rate, read from raw ledger records with a bound on the rows
fetched.

Counts and cost are summed by the database over every record of the window (one indexed range
scan, nothing fetched but one row per bucket). Percentiles need the values themselves: each
bucket contributes at most `sample_per_bucket` rows (its first ones, read through the time
index), so a window costs at most `buckets × sample_per_bucket` fetched rows however busy it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from calcifer.domain.ports import DeploymentStats, StatsBucket, StatsQuery, StatsReport
from calcifer.store.database import Codec, Result, Statement
from calcifer.store.ledger import HITS, MISSES

__all__ = ["percentile", "stats_report", "stats_statements"]

_ERROR = "CASE WHEN status >= 400 THEN 1 ELSE 0 END"


def stats_statements(query: StatsQuery, codec: Codec) -> list[Statement]:
    """Totals per bucket, the deployments, then one sample per bucket, in that order."""
    since = codec.time_in(query.since)
    until = codec.time_in(_bucket_start(query, query.buckets))
    bucket = _bucket_expression(query, codec)
    totals = Statement(
        f"SELECT {bucket} AS bucket, COUNT(*), SUM({_ERROR}), {codec.cost_sum()}, {HITS}, {MISSES}, "
        f"{codec.money_sum('saved')} FROM ledger "
        "WHERE started_at >= ? AND started_at < ? GROUP BY bucket",
        (since, since, until),
    )
    deployments = Statement(
        f"SELECT served_model, provider, COUNT(*), SUM({_ERROR}), AVG(latency_ms) FROM ledger "
        "WHERE started_at >= ? AND started_at < ? AND served_model IS NOT NULL AND provider IS NOT NULL "
        "GROUP BY served_model, provider ORDER BY served_model, provider",
        (since, until),
    )
    samples = [
        Statement(
            "SELECT latency_ms, ttft_ms FROM ledger WHERE started_at >= ? AND started_at < ? "
            f"AND status < 400 ORDER BY started_at LIMIT {int(query.sample_per_bucket)}",
            (codec.time_in(_bucket_start(query, i)), codec.time_in(_bucket_start(query, i + 1))),
        )
        for i in range(query.buckets)
    ]
    return [totals, deployments, *samples]


def _bucket_expression(query: StatsQuery, codec: Codec) -> str:
    """The bucket index of a record; its first `?` is the window's start."""
    if codec.sqlite:  # times are integer microseconds
        return f"((started_at - ?) / {int(query.bucket_seconds) * 1_000_000})"
    return f"FLOOR(EXTRACT(EPOCH FROM (started_at - ?)) / {int(query.bucket_seconds)})::int"


def _bucket_start(query: StatsQuery, index: int) -> datetime:
    return query.since + timedelta(seconds=query.bucket_seconds * index)


def stats_report(query: StatsQuery, results: Sequence[Result], codec: Codec) -> StatsReport:
    totals, deployments, *samples = results
    counted = {int(row[0]): row[1:] for row in totals.rows}
    buckets = []
    for index, sample in enumerate(samples):
        requests, errors, cost, hits, misses, saved = counted.get(index, (0, 0, 0, 0, 0, 0))
        latencies = sorted(float(row[0]) for row in sample.rows)
        ttfts = sorted(float(row[1]) for row in sample.rows if row[1] is not None)
        buckets.append(
            StatsBucket(
                start=_bucket_start(query, index),
                requests=int(requests),
                errors=int(errors or 0),
                cost_usd=codec.summed_cost(cost) if requests else Decimal(0),
                latency_p50_ms=percentile(latencies, 0.50),
                latency_p99_ms=percentile(latencies, 0.99),
                ttft_p50_ms=percentile(ttfts, 0.50),
                ttft_p99_ms=percentile(ttfts, 0.99),
                cache_hits=int(hits or 0),
                cache_misses=int(misses or 0),
                saved_usd=codec.summed_cost(saved) if requests else Decimal(0),
            )
        )
    return StatsReport(buckets, [_deployment(row) for row in deployments.rows])


def _deployment(row: Sequence[object]) -> DeploymentStats:
    model, provider, requests, errors, latency = row
    mean = None if latency is None else round(float(str(latency)), 2)
    return DeploymentStats(str(model), str(provider), int(str(requests)), int(str(errors or 0)), mean)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values; None for none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return round(ordered[rank - 1], 2)
