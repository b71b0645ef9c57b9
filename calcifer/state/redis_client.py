"""One way to connect to Redis/Valkey for every shared state: a blocking pool, short timeouts."""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["POOL_CONNECTIONS", "redis_client"]

POOL_CONNECTIONS = 64
"""Connections one worker keeps to Redis; calls beyond them wait for one."""


def redis_client(url: str, timeout: float) -> redis.Redis:
    """A client whose calls fail within `timeout` (connect, wait for a pooled connection, answer)."""
    # More calls at once than connections queue for one (up to the timeout) instead of
    # failing: redis-py's default pool raises "Too many connections" at once, which at
    # c=64 (an admission and a settlement per request) answered valid requests with 503.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # once at once on a dropped connection (a restarted Redis leaves every pooled
        # connection dead), never on a timeout: a Redis that hangs must fail fast
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return redis.Redis(connection_pool=pool)
