"""The response cache in process: an LRU bounded by bytes, one per worker (workers do not
share it; set `CALCIFER_REDIS_URL` for a cache shared by workers and replicas)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LocalResponseCache"]


class LocalResponseCache:
    """`ResponseCache` in a dict: least recently used entries go first when the values would
    exceed `max_bytes`; an entry past its TTL is a miss (and is dropped when met)."""

    def __init__(
        self, max_bytes: int, max_value_bytes: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_bytes = max_bytes
        self._max_value_bytes = max_bytes if max_value_bytes is None else min(max_value_bytes, max_bytes)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes_held(self) -> int:
        """The size of the values held now (keys and bookkeeping not counted)."""
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self.put_now(key, value, ttl_seconds)

    def put_now(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        """In a dict: done at once (no task, no await on the serving path)."""
        if key in self._entries:
            self._drop(key)
        if len(value) > self._max_value_bytes or ttl_seconds <= 0:
            return True
        while self._bytes + len(value) > self._max_bytes:
            self._drop(next(iter(self._entries)))
        self._entries[key] = (self._clock() + ttl_seconds, value)
        self._bytes += len(value)
        return True

    async def aclose(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)
