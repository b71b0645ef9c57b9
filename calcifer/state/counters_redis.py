"""Counters shared by replicas, in Redis or Valkey (>= 7): one script call per admission and
one per settlement (`calcifer.state.counters_lua`), on Redis's clock so replicas agree."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Sequence
from decimal import Decimal
from typing import Any, TypeVar, cast

from redis.exceptions import RedisError

from calcifer.domain import limits
from calcifer.domain.access import AccessScope
from calcifer.domain.ports import Demand, Hold, ScopeUsage, SpendSeed
from calcifer.errors import LimitsUnavailable
from calcifer.state.counters_common import (
    SETTLE_RETRY_DELAYS,
    SeedReader,
    counted,
    refusal_error,
    retry_in_background,
)
from calcifer.state.counters_lua import ADMIT, SETTLE, USAGE
from calcifer.state.redis_client import POOL_CONNECTIONS, redis_client

__all__ = ["POOL_CONNECTIONS", "SOCKET_TIMEOUT_SECONDS", "RedisCounters"]

SOCKET_TIMEOUT_SECONDS = 1.0
"""How long one Redis call may take (connect, wait for a pooled connection, answer). Long
enough that a busy worker's own event-loop delays do not fail calls (0.25 s did under load),
short enough that a Redis that hangs is answered 503 well within a client's patience."""
"""A Redis that does not answer in this long counts as unreachable (`LimitsUnavailable`)."""
_PREFIX = "calcifer:ctr:"
_SEED_ROUNDS = 3
_SEED_KEEP_SECONDS = 7 * 86_400
"""A day's or month's spend is kept this long after its period ends (then the ledger has it)."""
_SETTLED_MARK_MS = 30_000
"""How long a settlement's mark is kept (its retries are over within seconds); it makes a retry
of a call whose answer was lost a no-op. About 100 bytes each: 12 MB at 4,000 req/s."""
_NANOS = Decimal(1_000_000_000)
_FAULTS = (RedisError, OSError, asyncio.TimeoutError)
_T = TypeVar("_T")


class RedisCounters:
    """The `Counters` protocol in Redis (see `calcifer.domain.ports.Counters`)."""

    def __init__(
        self,
        url: str,
        seed: SpendSeed,
        lease_seconds: float = 900.0,
        timeout: float = SOCKET_TIMEOUT_SECONDS,
    ) -> None:
        self._client = redis_client(url, timeout)
        self._admit = self._client.register_script(ADMIT)
        self._settle = self._client.register_script(SETTLE)
        self._usage = self._client.register_script(USAGE)
        self._seeds = SeedReader(seed)
        self._lease_ms = int(lease_seconds * 1000)
        self._pending: set[asyncio.Task[None]] = set()
        self._periods = limits.PeriodCodes()

    async def admit(self, request_id: str, demands: Sequence[Demand]) -> Hold:
        counted_demands = counted(demands)
        if not counted_demands:
            now = time.time()
            return Hold(request_id, (), now, now + self._lease_ms / 1000, settled=True)
        hold = f"{request_id}:{os.urandom(6).hex()}"
        keys = [
            key for demand in counted_demands for key in _scope_keys(demand.scope, self._periods, time.time())
        ]
        args: list[str | int] = [len(counted_demands), self._lease_ms, hold]
        for demand in counted_demands:
            args.extend(_demand_args(demand))
        for _ in range(_SEED_ROUNDS):
            answer = cast(list[Any], await self._call(self._admit(keys=keys, args=args)))
            if answer[0] == 0:
                _, second, now_ms, until_ms = answer
                return Hold(
                    request_id, counted_demands, now_ms / 1000, until_ms / 1000, detail=(hold, second)
                )
            if answer[0] == 1:
                _, index, what, wait_ms = answer
                refusal = limits.Refusal(_text(what), int(wait_ms) / 1000)
                raise refusal_error(counted_demands[int(index) - 1], refusal, time.time())
            await asyncio.gather(*(self._seed(counted_demands[int(i) - 1].scope) for i in answer[1:]))
        raise LimitsUnavailable("the counters could not learn a budget's spend")

    async def settle(self, hold: Hold, cost_usd: Decimal, tokens: int) -> None:
        if hold.settled:
            return
        hold.settled = True
        token, second = cast(tuple[str, int], hold.detail)
        now = time.time()
        keys = [key for demand in hold.demands for key in _scope_keys(demand.scope, self._periods, now)]
        keys.append(f"{_PREFIX}settled:{token}")
        args: list[str | int] = [len(hold.demands), token, second, tokens, limits.nanos_ceil(cost_usd)]
        args.append(_SETTLED_MARK_MS)
        for demand in hold.demands:
            args.extend(
                (limits.nanos_ceil(demand.hold_usd), demand.tokens, int(demand.scope.budget is not None))
            )

        async def attempt() -> None:
            await self._call(self._settle(keys=keys, args=args))

        try:
            await attempt()
        except LimitsUnavailable:
            retry_in_background(attempt, f"the settlement of {hold.request_id}", self._pending)

    async def usage(self, scope: AccessScope) -> ScopeUsage:
        win, holds, _, spent = _scope_keys(scope, self._periods, time.time())
        answer = cast(list[Any], await self._call(self._usage(keys=[win, holds, spent])))
        requests, tokens, in_flight, reserved, spent_nanos = (int(value) for value in answer)
        known = spent_nanos if scope.budget is not None else 0
        return ScopeUsage(
            Decimal(known) / _NANOS, Decimal(reserved) / _NANOS, requests, tokens, in_flight
        )

    async def aclose(self) -> None:
        """Give pending settlements their retries (bounded), then close the connections."""
        if self._pending:
            await asyncio.wait(self._pending, timeout=sum(SETTLE_RETRY_DELAYS) + 1)
        for task in self._pending:
            task.cancel()
        await self._client.aclose()

    async def _seed(self, scope: AccessScope) -> None:
        """Read the period's spend from the ledger and set it only if still absent (SET NX)."""
        assert scope.budget is not None
        now = time.time()
        code, end = self._periods.code(scope.budget.period, now)
        nanos = await self._seeds.nanos(scope, code, now)
        keep = None if end is None else max(int(end - now), 1) + _SEED_KEEP_SECONDS
        await self._call(self._client.set(_spent_key(scope, self._periods, now), nanos, nx=True, ex=keep))

    async def _call(self, call: Awaitable[_T]) -> _T:
        """One Redis call; its failures become `LimitsUnavailable`."""
        try:
            return await call
        except _FAULTS as exc:
            raise LimitsUnavailable(f"the shared counters (Redis) cannot be reached: {exc}") from exc


def _scope_keys(scope: AccessScope, periods: limits.PeriodCodes, now: float) -> tuple[str, str, str, str]:
    base = f"{_PREFIX}{scope.counter_id}:"
    return base + "win", base + "holds", base + "held", _spent_key(scope, periods, now)


def _spent_key(scope: AccessScope, periods: limits.PeriodCodes, now: float) -> str:
    if scope.budget is None:
        return f"{_PREFIX}{scope.counter_id}:spent"  # never read: the scope has no budget
    code, _ = periods.code(scope.budget.period, now)
    return f"{_PREFIX}{scope.counter_id}:spent:{code}"


def _demand_args(demand: Demand) -> tuple[int, ...]:
    """rpm, tpm, parallel, budget limit (nano-dollars), hold (nano-dollars), tokens; -1: none."""
    rate, budget = demand.scope.limits, demand.scope.budget
    return (
        _or_none(rate.requests_per_minute),
        _or_none(rate.tokens_per_minute),
        _or_none(rate.max_parallel),
        -1 if budget is None else limits.nanos_floor(budget.limit_usd),
        limits.nanos_ceil(demand.hold_usd),
        demand.tokens,
    )


def _or_none(limit: int | None) -> int:
    return -1 if limit is None else limit


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
