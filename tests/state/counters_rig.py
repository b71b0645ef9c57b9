"""What the counters tests share: scopes with fresh ids, a settable clock, a ledger to seed from,
and one way to build each backend (one worker, the workers of a machine, Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from calcifer.domain.access import AccessScope, Budget, BudgetPeriod, RateLimit, ScopeKind
from calcifer.domain.ports import Counters, Demand, SpendSeed
from calcifer.state.counters_local import LocalCounters
from calcifer.state.counters_redis import RedisCounters
from calcifer.state.machine import MachineState

BACKENDS = ["local", "machine", "redis"]
START = datetime(2026, 12, 1, 12, 0, 0, 500_000, UTC).timestamp()
"""Mid-second, mid-day: the clock of the backends whose clock a test may move."""


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Ledger:
    """Stands for the ledger's `spent` query: what was recorded per scope, since a time."""

    spend: dict[str, Decimal] = field(default_factory=dict)
    reads: int = 0
    delay: float = 0.0
    asked_since: list[datetime | None] = field(default_factory=list)

    async def __call__(self, scope: AccessScope, period: BudgetPeriod, since: datetime | None) -> Decimal:
        self.reads += 1
        self.asked_since.append(since)
        await asyncio.sleep(self.delay)
        return self.spend.get(scope.counter_id, Decimal(0))


def scope(
    kind: ScopeKind = ScopeKind.KEY,
    budget: str | None = None,
    period: BudgetPeriod = BudgetPeriod.TOTAL,
    rpm: int | None = None,
    tpm: int | None = None,
    parallel: int | None = None,
) -> AccessScope:
    """A scope with an id no other test uses (Redis is shared by the whole session)."""
    return AccessScope(
        kind,
        f"{kind}_{uuid.uuid4().hex[:10]}",
        None if budget is None else Budget(Decimal(budget), period),
        RateLimit(rpm, tpm, parallel),
    )


def demand(of: AccessScope, hold: str = "0", tokens: int = 0) -> Demand:
    return Demand(of, Decimal(hold), tokens)


class Backend:
    """Builds counters of one kind; those built by one Backend share their numbers."""

    def __init__(self, name: str, redis_url: str | None = None) -> None:
        self.name = name
        self.clock = Clock()
        self.redis_url = redis_url
        self._machine = MachineState.create() if name == "machine" else None
        self._built: list[Counters] = []

    @property
    def moves_clock(self) -> bool:
        """Whether a test may set the clock (Redis uses its own)."""
        return self.name != "redis"

    def counters(self, seed: SpendSeed | None = None, lease: float = 900.0) -> Counters:
        ledger: SpendSeed = seed if seed is not None else Ledger()
        built: Counters
        if self.name == "local":
            built = LocalCounters(ledger, lease, self.clock)
        elif self.name == "machine":
            assert self._machine is not None
            built = self._machine.counters(ledger, lease, self.clock)
        else:
            assert self.redis_url is not None
            built = RedisCounters(self.redis_url, ledger, lease)
        self._built.append(built)
        return built

    async def pass_time(self, seconds: float) -> None:
        if self.moves_clock:
            self.clock.now += seconds
        else:
            await asyncio.sleep(seconds)

    def run(self, scenario: Callable[[], Awaitable[None]]) -> None:
        """Run a test's scenario in a new event loop, then close the counters it built there."""

        async def run_and_close() -> None:
            try:
                await scenario()
            finally:
                for built in self._built:
                    await built.aclose()
                self._built.clear()

        asyncio.run(run_and_close())
