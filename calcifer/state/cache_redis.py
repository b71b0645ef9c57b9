"""The response cache in Redis/Valkey, shared by every worker and replica: one round trip
per lookup and per store; a Redis that fails is a miss and a warning, never an error."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError

from calcifer.state.redis_client import redis_client

__all__ = ["RedisResponseCache"]

_PREFIX = "calcifer:cache:"
_FAULTS = (RedisError, OSError, asyncio.TimeoutError)
_WARN_EVERY_SECONDS = 10.0
"""A Redis that is down fails every lookup; one warning per this long says so."""
_log = logging.getLogger(__name__)


class RedisResponseCache:
    """`ResponseCache` in Redis: `GET` and `SET ... PX`; Redis expires the entries itself
    (and evicts them under its own `maxmemory-policy` when one is set)."""

    def __init__(self, url: str, max_value_bytes: int, timeout: float = 0.25) -> None:
        self._client = redis_client(url, timeout)
        self._max_value_bytes = max_value_bytes
        self._warned_at = -_WARN_EVERY_SECONDS

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(_PREFIX + key)
        except _FAULTS as fault:
            self._warn("lookup", fault)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        milliseconds = int(ttl_seconds * 1000)
        if len(value) > self._max_value_bytes or milliseconds <= 0:
            return
        try:
            await self._client.set(_PREFIX + key, value, px=milliseconds)
        except _FAULTS as fault:
            self._warn("store", fault)

    def put_now(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        return False  # a round trip: never on the serving path

    async def aclose(self) -> None:
        await self._client.aclose()

    def _warn(self, what: str, fault: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            _log.warning("response cache %s failed, served as a miss: %s", what, type(fault).__name__)
