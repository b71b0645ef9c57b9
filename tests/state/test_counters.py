"""One semantics for every `Counters`: in one worker, in a machine's shared memory, in Redis."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import redis.asyncio as redis

from calcifer.domain.access import BudgetPeriod, ScopeKind
from calcifer.domain.ports import ScopeUsage
from calcifer.errors import BudgetExceeded, KeyRateLimited
from tests.state.counters_rig import BACKENDS, Backend, Ledger, demand, scope


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return Backend(request.param, url)


def test_a_limit_of_60_admits_exactly_60_of_100_concurrent_admissions(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(rpm=60)
        admissions = (counters.admit(f"r{n}", [demand(key)]) for n in range(100))
        outcomes = await asyncio.gather(*admissions, return_exceptions=True)
        refused = [outcome for outcome in outcomes if isinstance(outcome, KeyRateLimited)]
        assert len(refused) == 40 and len(outcomes) - len(refused) == 60
        assert all(59 < error.retry_after <= 61 for error in refused)
        assert refused[0].scope == key.counter_id and "60 requests per minute" in str(refused[0])

    backend.run(scenario)


def test_a_request_refused_on_its_team_reserves_nothing_on_its_key(backend: Backend) -> None:
    async def scenario() -> None:
        counters = backend.counters()
        key, team = scope(rpm=2), scope(ScopeKind.TEAM, budget="1.00")
        first = await counters.admit("r1", [demand(key, "0.60"), demand(team, "0.60")])
        with pytest.raises(BudgetExceeded) as refused:
            await counters.admit("r2", [demand(key, "0.60"), demand(team, "0.60")])
        assert refused.value.scope == team.counter_id and refused.value.resets_at is None
        await counters.settle(first, Decimal(0), 0)
        await counters.admit("r3", [demand(key, "0.60"), demand(team, "0.60")])  # the key's 2nd, not 3rd

    backend.run(scenario)


def test_a_spent_day_budget_names_the_team_and_when_it_resets(backend: Backend) -> None:
    async def scenario() -> None:
        counters, team = backend.counters(), scope(ScopeKind.TEAM, budget="0.50", period=BudgetPeriod.DAY)
        hold = await counters.admit("r1", [demand(team, "0.10")])
        await counters.settle(hold, Decimal("0.45"), 10)
        with pytest.raises(BudgetExceeded) as refused:
            await counters.admit("r2", [demand(team, "0.10")])
        assert refused.value.resets_at is not None and refused.value.resets_at.endswith("T00:00:00Z")
        assert team.id in str(refused.value) and "day budget" in str(refused.value)
        assert (await counters.usage(team)).spent_usd == Decimal("0.45")

    backend.run(scenario)


def test_tokens_reserved_at_admission_are_corrected_when_settled(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(tpm=1000)
        first = await counters.admit("r1", [demand(key, tokens=800)])
        with pytest.raises(KeyRateLimited) as refused:
            await counters.admit("r2", [demand(key, tokens=800)])
        assert "1000 tokens per minute" in str(refused.value)
        await counters.settle(first, Decimal(0), 150)
        await counters.admit("r3", [demand(key, tokens=800)])  # 150 + 800 fit
        with pytest.raises(KeyRateLimited):
            await counters.admit("r4", [demand(key, tokens=100)])

    backend.run(scenario)


def test_a_request_whose_own_estimate_is_over_the_tpm_limit_is_told_so(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(tpm=1000)
        with pytest.raises(KeyRateLimited) as refused:
            await counters.admit("r1", [demand(key, tokens=5000)])
        assert "estimated 5000 tokens" in str(refused.value) and "never be admitted" in str(refused.value)

    backend.run(scenario)


def test_parallel_requests_are_those_not_yet_settled(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(parallel=2)
        first = await counters.admit("r1", [demand(key)])
        await counters.admit("r2", [demand(key)])
        with pytest.raises(KeyRateLimited) as refused:
            await counters.admit("r3", [demand(key)])
        assert "2 requests at once" in str(refused.value)
        await counters.settle(first, Decimal(0), 0)
        await counters.admit("r4", [demand(key)])

    backend.run(scenario)


def test_holds_lapse_after_their_lease_and_a_late_settle_releases_nothing_twice(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(lease=1.0), scope(budget="1.00", parallel=1)
        lost = await counters.admit("r1", [demand(key, "1.00")])  # as if its worker died holding it
        with pytest.raises(KeyRateLimited):
            await counters.admit("r2", [demand(key, "1.00")])
        await backend.pass_time(1.3)
        await counters.admit("r3", [demand(key, "0.50")])
        await counters.settle(lost, Decimal("0.25"), 0)  # late: its hold is gone, its cost still counts
        assert (await counters.usage(key)).spent_usd == Decimal("0.25")
        with pytest.raises(KeyRateLimited):  # r3 still holds the one parallel slot
            await counters.admit("r4", [demand(key, "0.10")])

    backend.run(scenario)


def test_settling_twice_counts_the_cost_once(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(budget="5.00", parallel=1)
        hold = await counters.admit("r1", [demand(key, "1.00")])
        await counters.settle(hold, Decimal("0.000000001"), 3)
        await counters.admit("r2", [demand(key, "1.00")])
        await counters.settle(hold, Decimal("0.000000001"), 3)  # must not release r2's slot
        assert (await counters.usage(key)).spent_usd == Decimal("0.000000001")
        with pytest.raises(KeyRateLimited):
            await counters.admit("r3", [demand(key, "1.00")])

    backend.run(scenario)


def test_a_cost_below_a_nano_dollar_counts_as_one(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(budget="5.00")
        hold = await counters.admit("r1", [demand(key, "1.00")])
        await counters.settle(hold, Decimal("0.0000000001"), 3)
        spent = (await counters.usage(key)).spent_usd
        assert spent == Decimal("0.000000001")  # rounded up: never under-stated

    backend.run(scenario)


def test_spend_is_read_from_the_ledger_once_per_worker_even_under_concurrency(backend: Backend) -> None:
    async def scenario() -> None:
        key = scope(budget="10.00")
        ledger = Ledger({key.counter_id: Decimal("5.00")}, delay=0.05)
        workers = [backend.counters(ledger), backend.counters(ledger)]  # two workers of one gateway
        admissions = [workers[n % 2].admit(f"r{n}", [demand(key, "0.10")]) for n in range(20)]
        holds = await asyncio.gather(*admissions)
        for n, hold in enumerate(holds):
            await workers[n % 2].settle(hold, Decimal("0.10"), 0)
        shared = backend.name != "local"  # one worker alone shares its numbers with nobody
        expected = Decimal("7.00") if shared else Decimal("6.00")
        assert [(await worker.usage(key)).spent_usd for worker in workers] == [expected, expected]
        assert ledger.reads <= 2  # at most once per worker, never once per request

    backend.run(scenario)


def test_a_scope_without_budget_or_limits_costs_nothing(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope()
        hold = await counters.admit("r1", [demand(key, "100.00", 10**9)])
        assert hold.demands == ()
        await counters.settle(hold, Decimal("100.00"), 10**9)

    backend.run(scenario)


def test_usage_shows_what_is_held_in_flight_and_counted_in_the_window(backend: Backend) -> None:
    async def scenario() -> None:
        counters, key = backend.counters(), scope(budget="5.00", rpm=10, tpm=1000, parallel=3)
        first = await counters.admit("r1", [demand(key, "0.30", tokens=200)])
        await counters.admit("r2", [demand(key, "0.50", tokens=300)])
        await counters.settle(first, Decimal("0.12"), 50)
        assert await counters.usage(key) == ScopeUsage(
            spent_usd=Decimal("0.12"),
            reserved_usd=Decimal("0.50"),  # r2's hold; r1's was released when it settled
            requests_last_minute=2,
            tokens_last_minute=350,  # r1's actual 50 + r2's estimate of 300
            in_flight=1,
        )

    backend.run(scenario)


def test_reading_an_unknown_scope_gives_zeros_and_claims_nothing(backend: Backend) -> None:
    async def scenario() -> None:
        ledger = Ledger()
        counters, key = backend.counters(ledger), scope(budget="1.00", rpm=1, parallel=1)
        for _ in range(3):
            assert await counters.usage(key) == ScopeUsage(Decimal(0), Decimal(0), 0, 0, 0)
        assert ledger.reads == 0  # a read seeds nothing
        if backend.redis_url is not None:
            async with redis.Redis.from_url(backend.redis_url) as client:
                assert await client.keys(f"calcifer:ctr:{key.counter_id}:*") == []
        await counters.admit("r1", [demand(key, "1.00")])  # the one request, the whole budget
        with pytest.raises(KeyRateLimited):
            await counters.admit("r2", [demand(key, "0.10")])

    backend.run(scenario)
