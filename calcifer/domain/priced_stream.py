"""A provider's chunk stream as the gateway serves it: observed, timed, priced.

Shape-neutral: it reads only what the adapter reports on each `Chunk` (usage, delivered
characters, finish reasons, response id and model), never the chunk's wire body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from calcifer.domain.billing import Pricer
from calcifer.domain.breaker import UPSTREAM_FAULTS
from calcifer.domain.chat import Chunk
from calcifer.domain.estimate import estimate_usage
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import CallRecord
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamProtocolError, UpstreamTimeout

__all__ = ["PricedStream", "ResultFields", "StreamLimits"]


@dataclass(slots=True)
class ResultFields:
    """What a stream said about itself: its id, the model that answered, why it stopped."""

    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    first_byte_timeout: float | None = None
    idle_timeout: float | None = None
    deadline: float | None = None
    """Monotonic time by which the whole stream must have ended."""

    def wait(self, first: bool) -> float | None:
        """Seconds the next chunk may take, or None for no limit."""
        limit = self.first_byte_timeout if first else self.idle_timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            limit = left if limit is None else min(limit, left)
        return limit


class PricedStream:
    """A provider's chunk stream, observed and priced as it passes.

    After the stream ends, `usage` and `cost` hold what the provider reported (or, when it
    ended before reporting, an estimate flagged as such); from the chunk carrying the usage
    report on, `cost` is what that report costs. Chunks pass through unchanged. `on_finish`
    is called once, when the stream ends.
    """

    def __init__(
        self,
        model: ModelSpec,
        upstream: AsyncIterator[Chunk],
        record: CallRecord,
        prompt_chars: int = 0,
        limits: StreamLimits = StreamLimits(),
        on_finish: Callable[[bool | None, float | None], None] | None = None,
        pricer: Pricer | None = None,
    ) -> None:
        self.model = model
        self.pricer = pricer or Pricer(model.price)
        """The price list and tier pricing this stream."""
        self.usage: Usage | None = None
        self.cost: Decimal | None = None
        self.result = ResultFields()
        self.upstream_seconds = 0.0
        """Time spent waiting for the provider, so far."""
        self.time_to_first_chunk: float | None = None
        self.attempts = 1
        self._upstream = upstream
        self._record = record
        self._first: Chunk | None = None
        self._prompt_chars = prompt_chars
        self._delivered_chars = 0
        self._reported: Usage | None = None
        self._limits = limits
        self._on_finish = on_finish
        self._finished = False
        self._idle = _IdleWatch(limits.idle_timeout) if limits.idle_timeout else None
        self._tap: Callable[[Chunk], None] | None = None

    async def start(self) -> None:
        """Wait for the first chunk: a provider that fails to start fails here, before any byte
        has gone to the client."""
        try:
            chunk = await self._next(first=True)
            if chunk is None:
                raise UpstreamProtocolError(
                    f"Provider '{self.model.provider_id}' ended the stream without sending anything",
                    provider=self.model.provider_id,
                )
            self._first = self._observe(chunk)
        except BaseException as exc:
            self._record.failed(exc, None, None)
            self._finish(False if isinstance(exc, UPSTREAM_FAULTS) else None)
            await self._close_upstream()
            raise
        self.time_to_first_chunk = self.upstream_seconds
        self._record.first_chunk()

    def tap(self, watcher: Callable[[Chunk], None]) -> None:
        """Show `watcher` every chunk from the first on (the response cache records with it)."""
        self._tap = watcher
        if self._first is not None:
            watcher(self._first)

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """Every chunk, the first included. Close this generator to cancel the upstream."""
        chunk: Chunk | None = None
        try:
            if self._first is not None:
                chunk, self._first = self._first, None
                yield chunk
            while True:
                # A chunk that came with more at hand is followed by one already read: no wait
                # to time or watch (a third of the per-chunk work, on streams that arrive in bursts).
                if chunk is not None and chunk.more:
                    chunk = await anext(self._upstream, None)
                else:
                    chunk = await self._next(first=False)
                if chunk is None:
                    break
                yield self._observe(chunk)
        except BaseException as exc:  # cancellation and client disconnects included
            self._price_unreported()
            self._record.failed(exc, self.usage, self.cost)
            # a client that leaves says nothing about the upstream's health
            self._finish(False if isinstance(exc, UPSTREAM_FAULTS) else None)
            raise
        finally:
            await self._close_upstream()
        self._price_unreported()
        self._record.succeeded(self.result, self.usage, self.cost)
        self._finish(True)

    async def _next(self, *, first: bool) -> Chunk | None:
        waited = time.perf_counter()
        try:
            if first or self._limits.deadline is not None:
                limit = self._limits.wait(first)
                if limit is None:
                    return await anext(self._upstream)
                async with asyncio.timeout(limit):  # one timer for the first chunk, or a rare deadline
                    return await anext(self._upstream)
            if self._idle is None:
                return await anext(self._upstream)
            self._idle.waiting()
            try:
                return await anext(self._upstream)
            except asyncio.CancelledError:
                if self._idle.expired():
                    raise TimeoutError from None
                raise
            finally:
                self._idle.done()
        except StopAsyncIteration:
            return None
        except TimeoutError:
            what = "its first chunk" if first else "its next chunk"
            raise UpstreamTimeout(
                f"Provider '{self.model.provider_id}' did not send {what} in time",
                provider=self.model.provider_id,
            ) from None
        finally:
            self.upstream_seconds += time.perf_counter() - waited

    async def aclose(self) -> None:
        """End a stream nobody read to its end (the client left before the first write):
        close the upstream, record the call, release the deployment. Harmless after `chunks`."""
        if self._finished:
            return
        self._price_unreported()
        self._record.failed(asyncio.CancelledError("the stream was never read"), self.usage, self.cost)
        self._finish(None)
        await self._close_upstream()

    def _finish(self, outcome: bool | None) -> None:
        """Report once how the stream ended: True fine, False the upstream failed, None no verdict."""
        self._finished = True
        if self._idle is not None:
            self._idle.stop()
        if self._on_finish is not None:
            callback, self._on_finish = self._on_finish, None
            callback(outcome, self.time_to_first_chunk)

    def _price_unreported(self) -> None:
        """A stream that ended without a usage report is still priced, on an estimate."""
        if self.usage is None:
            self.usage = estimate_usage(self._reported, self._prompt_chars, self._delivered_chars)
            self.cost = self.pricer.cost(self.usage)

    def _observe(self, chunk: Chunk) -> Chunk:
        if self._tap is not None:
            self._tap(chunk)
        result = self.result
        if result.response_id is None:
            result.response_id, result.response_model = chunk.response_id, chunk.response_model
        if chunk.finish_reasons:
            result.finish_reasons.extend(chunk.finish_reasons)
        self._delivered_chars += chunk.text_chars
        if chunk.usage_so_far is not None:
            self._reported = chunk.usage_so_far
        if chunk.usage is not None:
            self.usage = chunk.usage
            self.cost = self.pricer.cost(chunk.usage)
        return chunk

    async def _close_upstream(self) -> None:
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()


class _IdleWatch:
    """The idle-gap timeout of one stream, for the price of one timer per gap.

    Re-arming a timer for every chunk (as `asyncio.timeout` or aiohttp's `sock_read` do)
    costs a fifth of the gateway's CPU at a thousand paced streams. This timer is armed
    once and, when it fires, only cancels the stream's task if the task has been waiting
    for the provider for the whole limit; otherwise it re-arms for the time that is left.
    """

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._waiting_since: float | None = None
        self._fired = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._loop.time() + limit, self._check)

    def waiting(self) -> None:
        self._waiting_since = self._loop.time()

    def done(self) -> None:
        self._waiting_since = None

    def expired(self) -> bool:
        """Whether a cancellation came from this watch (and so is a timeout, not the client)."""
        if self._fired and self._task is not None:
            self._task.uncancel()
            return True
        return False

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        now = self._loop.time()
        since = self._waiting_since
        if since is not None and now - since >= self._limit and self._task is not None:
            self._fired = True
            self._handle = None
            self._task.cancel()
            return
        due = (since if since is not None else now) + self._limit
        self._handle = self._loop.call_at(max(due, now + 0.001), self._check)
