"""The native client's connections to one origin: at most `limit` open or opening, idle ones
reused newest first and closed on time, requests waiting for one served first come first.

A request either takes an idle connection, or a slot to open a new one, or waits; a
connection kept or a slot freed goes to the oldest waiter. Nothing here runs a timer per
request: a wait is timed only when the cap is reached, and one timer per origin closes the
oldest idle connection when its idle time is up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from calcifer.transport.base import ConnectFailed, PoolTimeout

if TYPE_CHECKING:
    from calcifer.transport.http_connection import Connection

__all__ = ["OriginPool"]


class OriginPool:
    def __init__(self, name: str, limit: int, idle_seconds: float) -> None:
        self._name = name
        self._limit = limit
        self._idle_seconds = idle_seconds
        self._idle: deque[Connection] = deque()
        """Oldest first; taken from the right (a warm connection) and expired from the left."""
        self._open: set[Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def open_count(self) -> int:
        return len(self._open)

    async def acquire(self, max_wait: float) -> Connection | None:
        """A kept connection that is still sound, or None: the caller opens one (and must end
        with `opened` or `failed`). Waits at most `max_wait` seconds once the cap is reached."""
        idle = self._idle
        while idle:
            connection = idle.pop()
            if connection.sound_for_reuse():
                return connection
            connection.abort()  # closed or spoken to while idle: never send on it
        if not self._waiters and len(self._open) + self._opening < self._limit:
            self._opening += 1
            return None
        return await self._wait(max_wait)

    def opened(self, connection: Connection) -> None:
        """The connection is made (called by the connection itself)."""
        self._opening -= 1
        self._open.add(connection)

    def failed(self) -> None:
        """The connection a slot was granted for could not be made."""
        self._opening -= 1
        self._grant()

    def lost(self, connection: Connection) -> None:
        """The connection closed, whoever closed it (called by the connection itself)."""
        if connection not in self._open:
            return
        self._open.discard(connection)
        if connection in self._idle:  # closed by the server while idle
            self._idle.remove(connection)
        self._grant()

    def keep(self, connection: Connection) -> None:
        """A connection whose answer is complete: to the oldest waiter, or kept idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        self._idle.append(connection)
        if self._sweep is None:
            self._arm(loop)

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(ConnectFailed(f"the client to {self._name} is closed"))
        self._waiters.clear()
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()

    async def _wait(self, max_wait: float) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max_wait):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())  # granted just as this request gave up
            elif waiter in self._waiters:  # (not when `close` failed it: the pool is gone)
                waiter.cancel()
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeout(
                    f"all {self._limit} connections to {self._name} stayed busy for {max_wait:g} s"
                ) from exc
            raise

    def _give_back(self, grant: Connection | None) -> None:
        if grant is not None:
            self.keep(grant)
        else:
            self.failed()

    def _grant(self) -> None:
        """Slots freed by closed connections go to the oldest waiters."""
        while self._waiters and len(self._open) + self._opening < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opening += 1
                waiter.set_result(None)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep = loop.call_at(self._idle[0].idle_since + self._idle_seconds, self._expire)

    def _expire(self) -> None:
        self._sweep = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() - self._idle_seconds
        idle = self._idle
        while idle and idle[0].idle_since <= deadline:
            idle.popleft().abort()
        if idle:
            self._arm(loop)
