"""What the shared counters cost per request: one admit and one settle, for a key (budget,
rpm, tpm, parallel) and its team (budget), in each backend.

    .venv/bin/python -m bench.counters                                # local and machine
    .venv/bin/python -m bench.counters --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from calcifer.domain.access import AccessScope, Budget, BudgetPeriod, RateLimit, ScopeKind
from calcifer.domain.ports import Counters, Demand
from calcifer.state.counters_local import LocalCounters
from calcifer.state.counters_redis import RedisCounters
from calcifer.state.machine import MachineState

_LIMITS = RateLimit(requests_per_minute=10**9, tokens_per_minute=10**12, max_parallel=10**6)


async def _no_spend_yet(scope: AccessScope, period: BudgetPeriod, since: datetime | None) -> Decimal:
    return Decimal(0)


def _demands() -> list[Demand]:
    suffix = uuid.uuid4().hex[:8]
    key = AccessScope(ScopeKind.KEY, f"bench_{suffix}", Budget(Decimal(10**6), BudgetPeriod.DAY), _LIMITS)
    team = AccessScope(ScopeKind.TEAM, f"bench_{suffix}", Budget(Decimal(10**6), BudgetPeriod.MONTH), _LIMITS)
    return [Demand(key, Decimal("0.05"), 1200), Demand(team, Decimal("0.05"), 1200)]


async def _measure(counters: Counters, requests: int) -> list[float]:
    """Microseconds per admit + settle, one request at a time (the c=1 added latency)."""
    demands = _demands()
    took: list[float] = []
    for number in range(requests):
        started = time.perf_counter()
        hold = await counters.admit(f"bench-{number}", demands)
        await counters.settle(hold, Decimal("0.0123"), 900)
        took.append((time.perf_counter() - started) * 1e6)
    await counters.aclose()
    return took[requests // 10 :]  # the first tenth warms up (seeding, connections, script load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--requests", type=int, default=20_000)
    options = parser.parse_args()
    machine = MachineState.create()
    backends: dict[str, Callable[[], Counters]] = {
        "local": lambda: LocalCounters(_no_spend_yet),
        "machine": lambda: machine.counters(_no_spend_yet, 900.0),
    }
    if options.redis_url:
        backends["redis"] = lambda: RedisCounters(options.redis_url, _no_spend_yet)
    print("| backend | admit + settle p50 (µs) | p99 (µs) |\n|---|---|---|")
    for name, build in backends.items():
        took = asyncio.run(_measure(build(), options.requests))
        p99 = statistics.quantiles(took, n=100)[98]
        print(f"| {name} | {statistics.median(took):.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
