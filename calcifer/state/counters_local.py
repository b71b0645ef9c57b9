"""Counters kept in memory: `TableCounters` runs `calcifer.domain.limits` over a table of
scope fields under the table's lock; `LocalCounters` is it with a dict, for one worker alone."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, MutableSequence, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol, cast

from calcifer.domain import limits
from calcifer.domain.access import AccessScope
from calcifer.domain.limits import LEASE_BUCKETS, WINDOW_SECONDS, ScopeFields
from calcifer.domain.ports import Demand, Hold, ScopeUsage, SpendSeed
from calcifer.errors import LimitsUnavailable
from calcifer.state.counters_common import SeedReader, counted, refusal_error

__all__ = ["CounterTable", "LocalCounters", "TableCounters"]

_SEED_ROUNDS = 3
"""Times an admission reads unknown spend and tries again before giving up (a period that
rolls over, or a slot taken back, while it reads)."""


class CounterTable(Protocol):
    """Scope fields by counter id; read and change them only while holding `lock`."""

    @property
    def lock(self) -> AbstractContextManager[object]: ...

    def fields(self, counter_id: str, now: float, *, claim: bool) -> ScopeFields | None:
        """The scope's fields; None when it has none and `claim` is false. Raises
        `LimitsUnavailable` when it has none and the table has no room for it."""


class TableCounters:
    """The `Counters` protocol over a `CounterTable` (see `calcifer.domain.ports.Counters`)."""

    def __init__(
        self, table: CounterTable, seed: SpendSeed, lease_seconds: float, clock: Callable[[], float]
    ) -> None:
        self._table = table
        self._seeds = SeedReader(seed)
        self._lease_seconds = lease_seconds
        self._bucket = limits.lease_bucket_seconds(lease_seconds)
        self._clock = clock
        self._periods = limits.PeriodCodes()

    async def admit(self, request_id: str, demands: Sequence[Demand]) -> Hold:
        counted_demands = counted(demands)
        now = self._clock()
        if not counted_demands:
            return Hold(request_id, (), now, now + self._lease_seconds, settled=True)
        for _ in range(_SEED_ROUNDS):
            with self._table.lock:
                unknown = self._try_admit(request_id, counted_demands, now)
            if isinstance(unknown, Hold):
                return unknown
            for scope, code in unknown:
                await self._seed(scope, code, now)
            now = self._clock()
        raise LimitsUnavailable("the counters could not learn a budget's spend (the table is too busy)")

    async def settle(self, hold: Hold, cost_usd: Decimal, tokens: int) -> None:
        if hold.settled:
            return
        hold.settled = True
        second, lease_number = cast(tuple[int, int], hold.detail)
        now = self._clock()
        cost = limits.nanos_ceil(cost_usd)
        with self._table.lock:
            for demand in hold.demands:
                fields = self._table.fields(demand.scope.counter_id, now, claim=False)
                if fields is None:
                    continue  # taken back when idle: nothing of this hold is left in it
                limits.settle_tokens(fields, second, demand.tokens, tokens, now)
                limits.release(fields, limits.nanos_ceil(demand.hold_usd), lease_number, self._lease_now(now))
                if demand.scope.budget is not None:
                    limits.settle_spend(fields, self._periods.code(demand.scope.budget.period, now)[0], cost)

    async def usage(self, scope: AccessScope) -> ScopeUsage:
        now = self._clock()
        code = None if scope.budget is None else self._periods.code(scope.budget.period, now)[0]
        with self._table.lock:
            fields = self._table.fields(scope.counter_id, now, claim=False)
            if fields is None:
                return limits.NO_USAGE
            return limits.usage(fields, code, now, self._lease_now(now))

    async def aclose(self) -> None:
        return None

    def _try_admit(
        self, request_id: str, demands: tuple[Demand, ...], now: float
    ) -> Hold | list[tuple[AccessScope, int]]:
        """Admit on every scope or none, under the table's lock; or the spends to seed first."""
        second, lease_now = math.floor(now), self._lease_now(now)
        lease_number = math.ceil((now + self._lease_seconds) / self._bucket)
        rows: list[tuple[Demand, ScopeFields, int]] = []
        unknown: list[tuple[AccessScope, int]] = []
        for demand in demands:
            fields = self._table.fields(demand.scope.counter_id, now, claim=True)
            assert fields is not None
            budget = demand.scope.budget
            if budget is not None:
                code, _ = self._periods.code(budget.period, now)
                if not limits.spend_known(fields, code):
                    unknown.append((demand.scope, code))
            rows.append((demand, fields, limits.nanos_ceil(demand.hold_usd)))
        if unknown:
            return unknown
        for demand, fields, hold_nanos in rows:
            refusal = limits.check(fields, demand.scope, hold_nanos, demand.tokens, now, lease_now)
            if refusal is not None:
                raise refusal_error(demand, refusal, now)
        for demand, fields, hold_nanos in rows:
            limits.reserve(fields, hold_nanos, demand.tokens, second, lease_number)
        return Hold(request_id, demands, now, lease_number * self._bucket, detail=(second, lease_number))

    async def _seed(self, scope: AccessScope, code: int, now: float) -> None:
        """Read the period's spend from the ledger, then set it only if still unknown here."""
        nanos = await self._seeds.nanos(scope, code, now)
        with self._table.lock:
            fields = self._table.fields(scope.counter_id, self._clock(), claim=True)
            if fields is not None and not limits.spend_known(fields, code):
                fields.period = code
                fields.spent_nanos = nanos

    def _lease_now(self, now: float) -> int:
        return math.floor(now / self._bucket)


class _Fields:
    """One scope's numbers as plain Python objects."""

    __slots__ = (
        "bucket_requests",
        "bucket_second",
        "bucket_tokens",
        "lease_holds",
        "lease_nanos",
        "lease_now",
        "lease_number",
        "live_holds",
        "live_nanos",
        "period",
        "spent_nanos",
        "window_requests",
        "window_second",
        "window_tokens",
    )

    def __init__(self, now: float) -> None:
        self.window_second = math.floor(now)
        self.window_requests = self.window_tokens = 0
        self.lease_now = self.live_holds = self.live_nanos = 0
        self.period = limits.UNKNOWN_PERIOD
        self.spent_nanos = 0
        self.bucket_second: MutableSequence[int] = [-1] * WINDOW_SECONDS
        self.bucket_requests: MutableSequence[int] = [0] * WINDOW_SECONDS
        self.bucket_tokens: MutableSequence[int] = [0] * WINDOW_SECONDS
        self.lease_number: MutableSequence[int] = [-1] * LEASE_BUCKETS
        self.lease_holds: MutableSequence[int] = [0] * LEASE_BUCKETS
        self.lease_nanos: MutableSequence[int] = [0] * LEASE_BUCKETS


class _NoLock:
    """One worker's counters need no lock: the event loop runs one admission at a time."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _DictTable:
    def __init__(self) -> None:
        self.lock = _NoLock()
        self._fields: dict[str, ScopeFields] = {}

    def fields(self, counter_id: str, now: float, *, claim: bool) -> ScopeFields | None:
        found = self._fields.get(counter_id)
        if found is None and claim:
            found = self._fields[counter_id] = _Fields(now)
        return found


class LocalCounters(TableCounters):
    """Counters for one worker alone (no other process shares its keys' limits)."""

    def __init__(
        self, seed: SpendSeed, lease_seconds: float = 900.0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(_DictTable(), seed, lease_seconds, clock)
