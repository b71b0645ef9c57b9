"""Circuit breakers, balancing strategies and the retry policy, on a fake clock."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from calcifer.domain.balancing import Balancer
from calcifer.domain.breaker import Admission, BreakerSettings, BreakerState, CircuitBreaker
from calcifer.domain.models import Deployment, ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.retry import RetryPolicy
from calcifer.errors import UpstreamRateLimited, UpstreamRejected, UpstreamUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **settings: float) -> CircuitBreaker:
    return CircuitBreaker(BreakerSettings(**settings), clock=clock)  # type: ignore[arg-type]


def test_breaker_opens_after_consecutive_failures_and_recovers_through_one_trial() -> None:
    clock = Clock()
    changes: list[tuple[BreakerState, BreakerState]] = []
    cb = CircuitBreaker(
        BreakerSettings(consecutive_failures=3, cooldown_seconds=10),
        clock=clock,
        on_change=lambda old, new: changes.append((old, new)),
    )
    for _ in range(2):
        cb.failed()
    assert cb.state is BreakerState.CLOSED and cb.available()
    cb.failed()
    assert cb.state is BreakerState.OPEN and not cb.available()
    assert cb.cooldown_remaining() == 10
    clock.now += 10
    assert cb.available()
    assert cb.acquire() is Admission.TRIAL
    assert cb.state is BreakerState.HALF_OPEN and not cb.available()  # one trial at a time
    assert not cb.acquire()
    cb.succeeded(trial=True)
    assert cb.state is BreakerState.CLOSED
    assert changes == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_failed_trial_opens_the_breaker_for_another_cooldown() -> None:
    clock = Clock()
    cb = breaker(clock, consecutive_failures=1, cooldown_seconds=5)
    cb.failed()
    clock.now += 5
    assert cb.acquire() is Admission.TRIAL
    cb.failed(trial=True)
    assert cb.state is BreakerState.OPEN and cb.cooldown_remaining() == 5


def test_error_rate_over_the_window_opens_it() -> None:
    clock = Clock()
    cb = breaker(clock, consecutive_failures=100, error_rate=0.5, min_calls=10, window_seconds=30)
    for index in range(1, 11):
        (cb.succeeded if index % 3 == 0 else cb.failed)()  # 7 of 10 fail, never more than 2 in a row
    assert cb.state is BreakerState.OPEN


def test_old_calls_leave_the_window() -> None:
    clock = Clock()
    cb = breaker(clock, consecutive_failures=100, error_rate=0.5, min_calls=4, window_seconds=30)
    for _ in range(3):
        cb.succeeded()
        cb.failed()  # never more than half failed: it stays closed
    assert cb.state is BreakerState.CLOSED
    clock.now += 31
    cb.failed()
    cb.failed()  # 5 of 8 had the old calls stayed; 2 calls are too few to judge
    assert cb.state is BreakerState.CLOSED


def model(*deployments: Deployment, strategy: str = "weighted") -> ModelSpec:
    return ModelSpec(
        "m",
        deployments[0].provider_id,
        deployments[0].upstream_model,
        Price(Decimal(1), Decimal(1)),
        deployments=deployments,
        strategy=strategy,
    )


A, B = Deployment("a", "x", weight=3), Deployment("b", "x", weight=1)


def test_weighted_random_follows_weights() -> None:
    spec = model(A, B)
    balancer = Balancer([spec], rng=random.Random(7))
    picks = Counter(balancer.pick(spec, set()).deployment.provider_id for _ in range(4000))  # type: ignore[union-attr]
    assert 2800 < picks["a"] < 3200


def test_retry_prefers_an_untried_deployment_and_skips_open_ones() -> None:
    spec = model(A, B)
    balancer = Balancer([spec], rng=random.Random(1))
    assert balancer.pick(spec, {A.key}).deployment == B  # type: ignore[union-attr]
    for state in balancer.states(spec):
        if state.deployment == B:
            for _ in range(20):  # every one of the window's 20 requests failed
                state.breaker.failed()
    assert all(balancer.pick(spec, set()).deployment == A for _ in range(50))  # type: ignore[union-attr]


def test_all_open_means_no_pick_and_a_cooldown() -> None:
    spec = model(A)
    balancer = Balancer([spec])
    for _ in range(20):
        balancer.states(spec)[0].breaker.failed()
    assert balancer.pick(spec, set()) is None
    assert 29 < balancer.cooldown(spec) <= 30


def test_least_in_flight() -> None:
    spec = model(A, B, strategy="least_inflight")
    balancer = Balancer([spec])
    balancer.states(spec)[0].in_flight = 4
    assert all(balancer.pick(spec, set()).deployment == B for _ in range(20))  # type: ignore[union-attr]


def test_lowest_latency_explores_now_and_then() -> None:
    spec = model(A, B, strategy="lowest_latency")
    balancer = Balancer([spec], rng=random.Random(3))
    fast, slow = balancer.states(spec)
    fast.observe_latency(0.05)
    slow.observe_latency(0.50)
    picks = Counter(balancer.pick(spec, set()).deployment.provider_id for _ in range(1000))  # type: ignore[union-attr]
    assert picks["a"] > 900 and picks["b"] > 10


def test_retry_policy() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.25, max_delay=1.0, max_retry_after=5)
    down = UpstreamUnavailable("x", provider="p")
    assert 0 <= policy.delay(0, down) <= 0.25  # type: ignore[operator]
    assert 0 <= policy.delay(1, down) <= 0.5  # type: ignore[operator]
    assert policy.delay(2, down) is None  # attempts used up
    assert policy.delay(0, UpstreamRateLimited("x", provider="p", retry_after=2.0)) == 2.0
    assert policy.delay(0, UpstreamRateLimited("x", provider="p", retry_after=60.0)) is None
    assert policy.delay(0, UpstreamRejected("x", provider="p")) is None
