"""`GET /admin/stats?window=hour|day|week`: requests, errors, cost and latency percentiles per
time bucket, and each deployment's error rate, from the ledger's raw records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.ports import StatsQuery, StatsReport
from calcifer.errors import InvalidRequest
from calcifer.http.admin.services import AccessServices, admin_services
from calcifer.http.admin.views import iso
from calcifer.http.jsonio import text_money_response
from calcifer.http.scope import RequestScope

__all__ = ["WINDOWS", "admin_stats", "stats", "stats_query"]

WINDOWS: dict[str, tuple[int, int]] = {
    # window: (buckets, seconds per bucket)
    "hour": (12, 300),
    "day": (24, 3600),
    "week": (28, 6 * 3600),
}


async def admin_stats(request: Request, scope: RequestScope) -> HTTPResponse:
    services = admin_services(request)
    window = request.args.get("window", "hour")
    return text_money_response(await stats(services, window, datetime.now(UTC)))


def stats_query(window: str, now: datetime) -> StatsQuery:
    """Buckets aligned on their length (whole minutes, hours), the last one holding `now`."""
    if window not in WINDOWS:
        raise InvalidRequest(f"'window' must be one of {', '.join(WINDOWS)}", param="window")
    buckets, seconds = WINDOWS[window]
    epoch = int(now.timestamp())
    last_start = epoch - epoch % seconds
    since = datetime.fromtimestamp(last_start, UTC) - timedelta(seconds=seconds * (buckets - 1))
    return StatsQuery(since=since, bucket_seconds=seconds, buckets=buckets)


async def stats(services: AccessServices, window: str, now: datetime) -> dict[str, Any]:
    query = stats_query(window, now)
    report = await services.ledger_store.stats(query)
    return view(window, query, report)


def view(window: str, query: StatsQuery, report: StatsReport) -> dict[str, Any]:
    buckets = [
        {
            "start": iso(bucket.start),
            "requests": bucket.requests,
            "errors": bucket.errors,
            "cost_usd": bucket.cost_usd,
            "latency_p50_ms": bucket.latency_p50_ms,
            "latency_p99_ms": bucket.latency_p99_ms,
            "ttft_p50_ms": bucket.ttft_p50_ms,
            "ttft_p99_ms": bucket.ttft_p99_ms,
        }
        for bucket in report.buckets
    ]
    deployments = [
        {
            "model": row.model,
            "provider": row.provider,
            "requests": row.requests,
            "errors": row.errors,
            "error_rate": round(row.errors / row.requests, 4) if row.requests else 0.0,
            "mean_latency_ms": row.mean_latency_ms,
        }
        for row in report.deployments
    ]
    totals = {
        "requests": sum(b.requests for b in report.buckets),
        "errors": sum(b.errors for b in report.buckets),
        "cost_usd": sum((b.cost_usd for b in report.buckets), Decimal(0)),
    }
    return {
        "object": "stats",
        "window": window,
        "since": iso(query.since),
        "bucket_seconds": query.bucket_seconds,
        "sample_per_bucket": query.sample_per_bucket,
        "totals": totals,
        "buckets": buckets,
        "deployments": deployments,
    }
