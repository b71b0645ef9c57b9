"""Circuit breakers as the gateway uses them, in process: what opens them, what clients get while
they are open, the half-open trial; breaker time is a clock the test moves, never a real cooldown."""

from __future__ import annotations

import asyncio
import random

import pytest

from calcifer.domain.breaker import BreakerSettings, BreakerState
from calcifer.domain.retry import RetryPolicy
from calcifer.errors import (
    ContextWindowExceeded,
    DeploymentsUnavailable,
    UnsupportedFeature,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.domain.gateway_rig import Answer, Fail, FakeProvider, Hang, Rig, build_rig, model

MODES = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
DOWN = Fail(UpstreamUnavailable)
THREE_STRIKES = BreakerSettings(consecutive_failures=3, min_calls=1000, cooldown_seconds=30)
ONE_CALL = RetryPolicy(attempts=1)
"""One call per request, so each failed request is exactly one failure for the breaker."""


def single(upstream: FakeProvider, breaker: BreakerSettings = THREE_STRIKES) -> Rig:
    return build_rig([model("m", upstream.id)], upstream, retry=ONE_CALL, breaker=breaker)


async def fail_times(rig: Rig, count: int, error: type[UpstreamError], *, stream: bool = False) -> None:
    for _ in range(count):
        with pytest.raises(error):
            await rig.ask("m", stream=stream)


@MODES
@pytest.mark.parametrize(
    "fault", [UpstreamUnavailable, UpstreamTimeout, UpstreamRateLimited, UpstreamProtocolError]
)
def test_upstream_faults_open_the_breaker_and_clients_are_told_when_to_come_back(
    stream: bool, fault: type[UpstreamError]
) -> None:
    upstream = FakeProvider("a", Fail(fault), Fail(fault), Fail(fault))
    rig = single(upstream)

    async def scenario() -> None:
        await fail_times(rig, 3, fault, stream=stream)
        with pytest.raises(DeploymentsUnavailable) as refused:
            await rig.ask("m", stream=stream)
        assert refused.value.retry_after == 30
        rig.clock.advance(10)
        with pytest.raises(DeploymentsUnavailable) as refused:
            await rig.ask("m", stream=stream)
        assert refused.value.retry_after == 20

    asyncio.run(scenario())
    assert rig.breaker("a") is BreakerState.OPEN
    assert len(upstream.calls) == 3  # nothing reached the upstream while it was open


@MODES
def test_after_the_cooldown_one_trial_goes_through_and_its_success_closes_the_breaker(stream: bool) -> None:
    upstream = FakeProvider("a", DOWN, DOWN, DOWN)
    rig = single(upstream)

    async def scenario() -> None:
        await fail_times(rig, 3, UpstreamUnavailable, stream=stream)
        rig.clock.advance(30)
        assert (await rig.ask("m", stream=stream)).text == "hello from upstream"
        assert rig.breaker("a") is BreakerState.CLOSED
        for _ in range(3):
            await rig.ask("m", stream=stream)

    asyncio.run(scenario())
    assert len(upstream.calls) == 7


@MODES
def test_a_failed_trial_opens_the_breaker_for_another_full_cooldown(stream: bool) -> None:
    upstream = FakeProvider("a", DOWN, DOWN, DOWN, DOWN)
    rig = single(upstream)

    async def scenario() -> None:
        await fail_times(rig, 3, UpstreamUnavailable, stream=stream)
        rig.clock.advance(30)
        await fail_times(rig, 1, UpstreamUnavailable, stream=stream)
        with pytest.raises(DeploymentsUnavailable) as refused:
            await rig.ask("m", stream=stream)
        assert refused.value.retry_after == 30

    asyncio.run(scenario())
    assert len(upstream.calls) == 4


def test_only_one_trial_is_in_flight_at_a_time() -> None:
    answer_trial = asyncio.Event()
    upstream = FakeProvider("a", DOWN, DOWN, DOWN, Hang(answer_trial, then=Answer("trial answered")))
    rig = single(upstream)

    async def scenario() -> None:
        await fail_times(rig, 3, UpstreamUnavailable)
        rig.clock.advance(30)
        trial = asyncio.create_task(rig.ask("m"))
        await upstream.wait_for_calls(4)
        with pytest.raises(DeploymentsUnavailable):
            await rig.ask("m")
        answer_trial.set()
        assert (await trial).text == "trial answered"
        assert (await rig.ask("m")).text == "hello from upstream"

    asyncio.run(scenario())
    assert len(upstream.calls) == 5


def test_a_request_refused_for_its_own_sake_does_not_hold_the_trial_slot() -> None:
    upstream = FakeProvider("a", DOWN, DOWN, DOWN, refuses=frozenset({"tools"}))
    rig = single(upstream)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]

    async def scenario() -> None:
        await fail_times(rig, 3, UpstreamUnavailable)
        rig.clock.advance(30)
        with pytest.raises(UnsupportedFeature):
            await rig.ask("m", tools=tools)
        assert (await rig.ask("m")).text == "hello from upstream"  # this one is the trial

    asyncio.run(scenario())
    assert rig.breaker("a") is BreakerState.CLOSED


def test_an_open_deployment_is_skipped_while_a_healthy_one_serves() -> None:
    broken, healthy = FakeProvider("a", otherwise=DOWN), FakeProvider("b")
    rig = build_rig(
        [model("m", "a", "b")], broken, healthy, retry=RetryPolicy(attempts=2), breaker=THREE_STRIKES
    )

    async def scenario() -> None:
        for _ in range(100):  # requests that happen to try `a` first fail over to `b`
            await rig.ask("m")
            if rig.breaker("a") is BreakerState.OPEN:
                break
        assert rig.breaker("a") is BreakerState.OPEN
        calls_to_broken = len(broken.calls)
        for _ in range(10):
            assert (await rig.ask("m")).attempts == 1
        assert len(broken.calls) == calls_to_broken

    asyncio.run(scenario())


def test_an_open_model_hands_over_to_its_fallback_without_calling_it() -> None:
    models = [model("m", "a", fallbacks=("spare",)), model("spare", "b")]
    broken = FakeProvider("a", otherwise=DOWN)
    rig = build_rig(models, broken, FakeProvider("b"), retry=ONE_CALL, breaker=THREE_STRIKES)

    async def scenario() -> None:
        for _ in range(3):
            assert (await rig.ask("m")).model == "spare"
        served = await rig.ask("m")
        assert (served.model, served.attempts) == ("spare", 1)

    asyncio.run(scenario())
    assert rig.log == ["a", "b", "a", "b", "a", "b", "b"]


@MODES
@pytest.mark.parametrize("error", [UpstreamRejected, ContextWindowExceeded])
def test_requests_the_upstream_refuses_never_count_against_its_breaker(
    stream: bool, error: type[UpstreamError]
) -> None:
    upstream = FakeProvider("a", *[Fail(error)] * 5)
    rig = single(upstream)

    async def scenario() -> None:
        await fail_times(rig, 5, error, stream=stream)
        assert (await rig.ask("m", stream=stream)).text == "hello from upstream"

    asyncio.run(scenario())
    assert rig.breaker("a") is BreakerState.CLOSED


@MODES
def test_a_success_already_in_flight_does_not_close_an_open_breaker(stream: bool) -> None:
    answer_slow = asyncio.Event()
    upstream = FakeProvider("a", Hang(answer_slow, then=Answer()), DOWN, DOWN, DOWN)
    rig = single(upstream)

    async def scenario() -> None:
        slow = asyncio.create_task(rig.ask("m", stream=stream))
        await upstream.wait_for_calls(1)
        await fail_times(rig, 3, UpstreamUnavailable, stream=stream)
        answer_slow.set()
        await slow
        with pytest.raises(DeploymentsUnavailable):  # only a trial after the cooldown may close it
            await rig.ask("m", stream=stream)

    asyncio.run(scenario())


@MODES
def test_a_malformed_answer_is_retried_like_a_dropped_connection(stream: bool) -> None:
    upstream = FakeProvider("a", Fail(UpstreamProtocolError))
    rig = build_rig([model("m", "a")], upstream)

    served = asyncio.run(rig.ask("m", stream=stream))

    assert served.attempts == 2


def test_a_malformed_answer_moves_on_to_another_deployment() -> None:
    upstream_a = FakeProvider("a", Fail(UpstreamProtocolError))
    rig = build_rig([model("m", "a", "b")], upstream_a, upstream_a.sharing_script("b"))

    assert asyncio.run(rig.ask("m")).attempts == 2


def test_one_request_s_own_retries_do_not_open_the_breaker() -> None:
    upstream = FakeProvider("a", *[DOWN] * 5)
    rig = build_rig([model("m", "a")], upstream, retry=RetryPolicy(attempts=5, base_delay=0.001))

    async def scenario() -> None:
        with pytest.raises(UpstreamUnavailable):
            await rig.ask("m")
        assert (await rig.ask("m")).text == "hello from upstream"

    asyncio.run(scenario())


@MODES
def test_a_lone_deployment_with_random_faults_stays_closed_under_default_settings(stream: bool) -> None:
    """Issue 10's chaos mix in miniature: a quarter of all calls fail at random, one deployment,
    no fallback, default breaker and three attempts per request."""
    rng = random.Random(10)
    upstream = FakeProvider("a", *[DOWN if rng.random() < 0.25 else Answer() for _ in range(6000)])
    rig = build_rig([model("m", "a")], upstream)

    async def scenario() -> int:
        served = 0
        for _ in range(2000):
            try:
                await rig.ask("m", stream=stream)
                served += 1
            except UpstreamUnavailable:
                pass
        return served

    assert asyncio.run(scenario()) >= 1940  # 0.25³: about 31 in 2000 fail all three attempts
    assert rig.breaker("a") is BreakerState.CLOSED


def test_a_deployment_failing_most_requests_opens_once_enough_distinct_requests_were_seen() -> None:
    upstream = FakeProvider("a", otherwise=DOWN)
    rig = build_rig([model("m", "a")], upstream)

    async def scenario() -> None:
        await fail_times(rig, 19, UpstreamUnavailable)
        assert rig.breaker("a") is BreakerState.CLOSED  # 57 failed calls, but 19 requests
        with pytest.raises(DeploymentsUnavailable):  # its first call opened it: no retry
            await rig.ask("m")
        assert rig.breaker("a") is BreakerState.OPEN

    asyncio.run(scenario())
    assert len(upstream.calls) == 19 * 3 + 1
