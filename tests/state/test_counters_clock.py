"""What the counters do as time passes, on a clock the test moves (one worker, and a machine's
workers; Redis keeps its own clock: see test_counters_shared for its Retry-After)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from calcifer.domain.access import BudgetPeriod
from calcifer.errors import BudgetExceeded, KeyRateLimited
from tests.state.counters_rig import Backend, Ledger, demand, scope


@pytest.fixture(params=["local", "machine"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return Backend(request.param)


def test_no_60_second_window_ever_holds_more_than_the_limit(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(rpm=3)
        start = backend.clock.now  # xx:xx:00.5
        for _ in range(3):
            await counters.admit("r", [demand(key)])
        backend.clock.now = start + 59.4  # a fixed minute would have started again by now
        with pytest.raises(KeyRateLimited) as refused:
            await counters.admit("r", [demand(key)])
        assert refused.value.retry_after == pytest.approx(61 - 59.4 - 0.5)  # at :01 of the 61st second
        backend.clock.now = start + 60.49  # still less than 61 s after the second they were counted in
        with pytest.raises(KeyRateLimited):
            await counters.admit("r", [demand(key)])
        backend.clock.now = start + 60.5
        for _ in range(3):
            await counters.admit("r", [demand(key)])

    backend.run(scenario)


def test_requests_spread_over_the_minute_leave_it_one_second_at_a_time(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(rpm=2)
        start = backend.clock.now
        await counters.admit("r", [demand(key)])
        backend.clock.now = start + 30
        await counters.admit("r", [demand(key)])
        backend.clock.now = start + 45
        with pytest.raises(KeyRateLimited) as refused:
            await counters.admit("r", [demand(key)])
        assert refused.value.retry_after == pytest.approx(61 - 45 - 0.5)  # when the first one leaves
        backend.clock.now = start + 61
        await counters.admit("r", [demand(key)])
        with pytest.raises(KeyRateLimited):  # the one at +30 is still in the window
            await counters.admit("r", [demand(key)])

    backend.run(scenario)


def test_tokens_per_minute_slide_with_the_window(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(tpm=1000)
        hold = await counters.admit("r", [demand(key, tokens=900)])
        await counters.settle(hold, Decimal(0), 900)
        backend.clock.now += 30
        with pytest.raises(KeyRateLimited):
            await counters.admit("r", [demand(key, tokens=200)])
        backend.clock.now += 31
        await counters.admit("r", [demand(key, tokens=1000)])

    backend.run(scenario)


def test_a_new_day_starts_its_budget_from_the_ledger_not_by_subtracting(backend: Backend) -> None:
    async def scenario() -> None:
        key = scope(budget="1.00", period=BudgetPeriod.DAY)
        ledger = Ledger({key.counter_id: Decimal("0.30")})
        counters = backend.counters(ledger)
        backend.clock.now = datetime(2026, 12, 1, 23, 59, 50, tzinfo=UTC).timestamp()
        hold = await counters.admit("r1", [demand(key, "0.50")])
        await counters.settle(hold, Decimal("0.60"), 0)
        with pytest.raises(BudgetExceeded) as refused:
            await counters.admit("r2", [demand(key, "0.20")])
        assert refused.value.resets_at == "2026-12-02T00:00:00Z"
        ledger.spend[key.counter_id] = Decimal("0.05")  # what the ledger holds for the new day
        backend.clock.now += 15
        await counters.admit("r3", [demand(key, "0.90")])
        assert (await counters.usage(key)).spent_usd == Decimal("0.05")
        assert ledger.asked_since == [
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2026, 12, 2, tzinfo=UTC),
        ]

    backend.run(scenario)


def test_a_long_idle_scope_starts_clean(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(lease=60), scope(rpm=1, parallel=1, budget="1.00")
        await counters.admit("r1", [demand(key, "1.00", 5)])
        backend.clock.now += 10 * 86_400
        await counters.admit("r2", [demand(key, "1.00", 5)])

    backend.run(scenario)
