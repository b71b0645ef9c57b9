"""`GET /admin/stats?window=hour|day|week`: requests, errors, cost, response cache hits and
latency percentiles per time bucket, and each deployment's error rate, from the ledger's raw
records (so every worker and replica counts); plus the bytes the in-process cache holds."""

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

__all__ = ["WINDOWS", "admin_stats", "cache_size", "stats", "stats_query"]

WINDOWS: dict[str, tuple[int, int]] = {
    # window: (buckets, seconds per bucket)
    "hour": (12, 300),
    "day": (24, 3600),
    "week": (28, 6 * 3600),
}


async def admin_stats(request: Request, scope: RequestScope) -> HTTPResponse:
    services = admin_services(request)
    window = request.args.get("window", "hour")
    figures = await stats(services, window, datetime.now(UTC))
    figures["cache"].update(cache_size(request.app.ctx))
    return text_money_response(figures)


def cache_size(ctx: Any) -> dict[str, Any]:
    """The bytes the response cache holds and whose they are: every live worker of this
    machine (read from the metrics' shared samples, at most a second old); this worker alone
    when metrics are off; none for Redis, which the gateway does not measure."""
    metrics = getattr(ctx, "metrics", None)
    held = metrics.cache_bytes() if metrics is not None else None
    if held is not None:
        return {"bytes_held": held, "bytes_of": "all workers"}
    worker_bytes = getattr(ctx, "worker_cache_bytes", None)  # set by the composition root
    if worker_bytes is not None:
        return {"bytes_held": worker_bytes(), "bytes_of": "this worker"}
    return {"bytes_held": None, "bytes_of": "not measured (Redis)"}


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
            "cache_hits": bucket.cache_hits,
            "cache_misses": bucket.cache_misses,
            "saved_usd": bucket.saved_usd,
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
    hits, misses = sum(b.cache_hits for b in report.buckets), sum(b.cache_misses for b in report.buckets)
    cache = {
        "hits": hits,
        "misses": misses,
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        "saved_usd": sum((b.saved_usd for b in report.buckets), Decimal(0)),
    }
    return {
        "object": "stats",
        "window": window,
        "since": iso(query.since),
        "bucket_seconds": query.bucket_seconds,
        "sample_per_bucket": query.sample_per_bucket,
        "totals": totals,
        "cache": cache,
        "buckets": buckets,
        "deployments": deployments,
    }
