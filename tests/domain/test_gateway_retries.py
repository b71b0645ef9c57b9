"""The gateway's retries, in process: how many calls, where, after what wait, within what deadline."""

from __future__ import annotations

import asyncio
import time

import pytest

from calcifer.domain.breaker import BreakerSettings, BreakerState
from calcifer.domain.retry import RetryPolicy
from calcifer.errors import (
    ContextWindowExceeded,
    UnsupportedFeature,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.domain.gateway_rig import FAST_RETRY, Answer, Fail, FakeProvider, Hang, build_rig, model

MODES = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@MODES
def test_faults_are_retried_and_the_answer_reports_every_call(stream: bool) -> None:
    upstream = FakeProvider("a", Fail(UpstreamUnavailable), Fail(UpstreamTimeout))
    rig = build_rig([model("m", "a")], upstream)

    served = asyncio.run(rig.ask("m", stream=stream))

    assert served.text == "hello from upstream"
    assert served.attempts == 3
    assert len(upstream.calls) == 3


@MODES
def test_the_provider_s_attempts_bound_the_calls_and_the_last_error_is_returned(stream: bool) -> None:
    upstream = FakeProvider("a", otherwise=Fail(UpstreamUnavailable))
    rig = build_rig([model("m", "a")], upstream, retry=RetryPolicy(attempts=4, base_delay=0.001))

    with pytest.raises(UpstreamUnavailable):
        asyncio.run(rig.ask("m", stream=stream))

    assert len(upstream.calls) == 4


def test_another_deployment_is_tried_at_once_without_waiting() -> None:
    # Whichever deployment is picked first asks for a 5 s pause; the other one answers now.
    upstream_a = FakeProvider("a", Fail(UpstreamRateLimited, retry_after=5))
    rig = build_rig([model("m", "a", "b")], upstream_a, upstream_a.sharing_script("b"))

    started = time.monotonic()
    served = asyncio.run(rig.ask("m"))

    assert time.monotonic() - started < 1
    assert served.attempts == 2
    assert sorted(rig.log) == ["a", "b"]


def test_a_lone_deployment_is_called_again_after_a_back_off() -> None:
    upstream = FakeProvider("a", Fail(UpstreamUnavailable), Fail(UpstreamUnavailable))
    rig = build_rig([model("m", "a")], upstream)

    served = asyncio.run(rig.ask("m"))

    assert served.attempts == 3
    assert rig.log == ["a", "a", "a"]


@MODES
def test_retry_after_is_waited_for_when_it_fits_the_deadline(stream: bool) -> None:
    upstream = FakeProvider("a", Fail(UpstreamRateLimited, retry_after=0.1))
    rig = build_rig([model("m", "a")], upstream)

    started = time.monotonic()
    served = asyncio.run(rig.ask("m", stream=stream, deadline=started + 5))

    assert 0.1 <= time.monotonic() - started < 1
    assert served.attempts == 2


@MODES
def test_retry_after_beyond_the_deadline_returns_the_rate_limit_at_once(stream: bool) -> None:
    upstream = FakeProvider("a", Fail(UpstreamRateLimited, retry_after=5))
    rig = build_rig([model("m", "a")], upstream)

    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited) as caught:
        asyncio.run(rig.ask("m", stream=stream, deadline=started + 1))

    assert time.monotonic() - started < 0.5
    assert caught.value.retry_after == 5  # the client is told when to come back
    assert len(upstream.calls) == 1


def test_retry_after_longer_than_the_provider_allows_is_not_waited_for() -> None:
    upstream = FakeProvider("a", Fail(UpstreamRateLimited, retry_after=60))
    rig = build_rig([model("m", "a")], upstream, retry=FAST_RETRY)  # max_retry_after is 20 s

    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited):
        asyncio.run(rig.ask("m"))

    assert time.monotonic() - started < 0.5
    assert len(upstream.calls) == 1


@MODES
@pytest.mark.parametrize("error", [UpstreamRejected, ContextWindowExceeded])
def test_request_errors_are_not_retried(stream: bool, error: type[UpstreamError]) -> None:
    # Two deployments that would each refuse it: neither the same one nor the other is tried again.
    rig = build_rig([model("m", "a", "b")], FakeProvider("a", Fail(error)), FakeProvider("b", Fail(error)))

    with pytest.raises(error):
        asyncio.run(rig.ask("m", stream=stream))

    assert len(rig.log) == 1


@MODES
def test_unsupported_features_are_refused_without_calling_the_upstream_or_blaming_it(stream: bool) -> None:
    upstream = FakeProvider("a", refuses=frozenset({"tools"}))
    rig = build_rig([model("m", "a")], upstream, breaker=BreakerSettings(consecutive_failures=1))

    async def scenario() -> None:
        for _ in range(3):
            with pytest.raises(UnsupportedFeature, match="tools"):
                await rig.ask("m", stream=stream, tools=TOOLS)
        assert (await rig.ask("m", stream=stream)).text == "hello from upstream"

    asyncio.run(scenario())
    assert len(upstream.calls) == 1
    assert rig.breaker("a") is BreakerState.CLOSED


def test_a_request_one_deployment_refuses_goes_to_a_deployment_that_serves_it() -> None:
    plain, capable = FakeProvider("a", refuses=frozenset({"tools"})), FakeProvider("b")
    rig = build_rig([model("m", "a", "b")], plain, capable)

    async def scenario() -> None:
        for _ in range(10):
            await rig.ask("m", tools=TOOLS)

    asyncio.run(scenario())
    assert rig.log == ["b"] * 10


@MODES
def test_a_silent_upstream_becomes_a_timeout_at_the_deadline(stream: bool) -> None:
    upstream = FakeProvider("a", otherwise=Hang())
    rig = build_rig([model("m", "a")], upstream)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        asyncio.run(rig.ask("m", stream=stream, deadline=started + 0.1))

    assert 0.1 <= time.monotonic() - started < 0.5
    assert rig.in_flight() == 0


def test_a_stream_going_silent_past_the_deadline_is_cut_with_a_timeout() -> None:
    upstream = FakeProvider("a", Answer("one two", then=Hang()))
    rig = build_rig([model("m", "a")], upstream)
    received: list[str] = []

    async def scenario() -> None:
        answer = await rig.gateway.stream(rig.request("m", stream=True), time.monotonic() + 0.1)
        async for chunk in answer.chunks():
            received.extend(c["delta"].get("content", "") for c in chunk.data["choices"])

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        asyncio.run(scenario())

    assert 0.1 <= time.monotonic() - started < 0.5
    assert received == ["one", "two"]
    assert len(upstream.calls) == 1  # what was streamed cannot be taken back: no retry
    assert upstream.closed_streams == 1


def test_a_deadline_spent_on_one_deployment_leaves_the_others_and_the_fallback_alone() -> None:
    # A non-streamed attempt may use all the time left: once it has, nothing more is called
    # (an attempt with no time left would fail at once and blame a deployment for nothing).
    models = [model("primary", "a", "b", fallbacks=("second",)), model("second", "c")]
    rig = build_rig(
        models,
        FakeProvider("a", otherwise=Hang()),
        FakeProvider("b", otherwise=Hang()),
        FakeProvider("c"),
    )

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as timed_out:
        asyncio.run(rig.ask("primary", deadline=started + 0.2))

    assert 0.2 <= time.monotonic() - started < 0.5
    assert len(rig.log) == 1
    assert timed_out.value.message.startswith("No provider answered within the request's deadline (0.")
    assert rig.in_flight() == 0


def test_a_stream_s_wait_for_its_first_chunk_is_shared_among_its_attempts() -> None:
    upstream = FakeProvider("a", otherwise=Hang())
    rig = build_rig([model("m", "a")], upstream)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as timed_out:
        asyncio.run(rig.ask("m", stream=True, deadline=started + 0.3))

    assert 0.3 <= time.monotonic() - started < 0.6
    assert len(upstream.calls) == FAST_RETRY.attempts  # half the time left, a quarter, the rest
    assert "deadline" in timed_out.value.message
    assert rig.in_flight() == 0


def test_a_back_off_longer_than_the_time_left_is_shortened_so_every_attempt_is_made() -> None:
    # The back-off is the gateway's own choice (unlike a provider's Retry-After): it shrinks to
    # fit, rather than the request giving up before its deadline with attempts unmade.
    upstream = FakeProvider("a", otherwise=Hang())
    slow_back_off = RetryPolicy(attempts=3, base_delay=10, max_delay=10)
    rig = build_rig([model("m", "a")], upstream, retry=slow_back_off)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as timed_out:
        asyncio.run(rig.ask("m", stream=True, deadline=started + 0.4))

    assert 0.4 <= time.monotonic() - started < 0.7
    assert len(upstream.calls) == 3
    assert "deadline" in timed_out.value.message
