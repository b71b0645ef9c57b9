"""Fallback models, context-window fallbacks and X-Provider pinning, in process on fake upstreams."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from calcifer.domain.pricing import Price
from calcifer.errors import (
    ContextWindowExceeded,
    ProviderMismatch,
    ProviderNotConfigured,
    UnsupportedFeature,
    UpstreamRejected,
    UpstreamUnavailable,
)
from tests.domain.gateway_rig import REPORTED_USAGE, Fail, FakeProvider, build_rig, model

MODES = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
DOWN = Fail(UpstreamUnavailable)
LARGE_PRICE = Price(Decimal(5), Decimal(15))


@MODES
def test_fallback_models_are_tried_in_order_once_a_model_s_attempts_are_spent(stream: bool) -> None:
    models = [
        model("primary", "a", fallbacks=("second", "third")),
        model("second", "b"),
        model("third", "c", price=LARGE_PRICE),
    ]
    rig = build_rig(
        models, FakeProvider("a", otherwise=DOWN), FakeProvider("b", otherwise=DOWN), FakeProvider("c")
    )

    served = asyncio.run(rig.ask("primary", stream=stream))

    assert rig.log == ["a", "a", "a", "b", "b", "b", "c"]
    assert served.model == "third"
    assert served.attempts == 7
    assert served.cost == LARGE_PRICE.cost(REPORTED_USAGE)  # priced by the model that answered


def test_every_deployment_of_a_model_is_tried_before_its_fallback() -> None:
    models = [model("primary", "a", "b", fallbacks=("second",)), model("second", "c")]
    rig = build_rig(
        models, FakeProvider("a", otherwise=DOWN), FakeProvider("b", otherwise=DOWN), FakeProvider("c")
    )

    served = asyncio.run(rig.ask("primary"))

    assert served.model == "second"
    assert {"a", "b"} <= set(rig.log[:3]) and rig.log[3:] == ["c"]


def test_a_request_error_is_the_client_s_answer_and_goes_to_no_fallback() -> None:
    models = [model("primary", "a", fallbacks=("second",)), model("second", "b")]
    rig = build_rig(models, FakeProvider("a", Fail(UpstreamRejected)), FakeProvider("b"))

    with pytest.raises(UpstreamRejected):
        asyncio.run(rig.ask("primary"))

    assert rig.log == ["a"]


def test_a_model_whose_provider_is_not_configured_is_served_by_its_fallback() -> None:
    missing = {"keyless": "KEYLESS_API_KEY is not set"}
    models = [
        model("primary", "keyless", fallbacks=("second",)),
        model("second", "b"),
        model("alone", "keyless"),
    ]
    rig = build_rig(models, FakeProvider("b"), unavailable=missing)

    assert asyncio.run(rig.ask("primary")).model == "second"
    with pytest.raises(ProviderNotConfigured, match="KEYLESS_API_KEY"):
        asyncio.run(rig.ask("alone"))


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_a_fallback_that_refuses_a_parameter_is_skipped_and_the_failure_that_led_there_answers() -> None:
    models = [
        model("primary", "a", fallbacks=("picky", "third")),
        model("picky", "b"),
        model("third", "c"),
    ]
    down, picky, third = (
        FakeProvider("a", otherwise=DOWN),
        FakeProvider("b", refuses=frozenset({"tools"})),
        FakeProvider("c", otherwise=DOWN),
    )
    rig = build_rig(models, down, picky, third)

    with pytest.raises(UpstreamUnavailable):
        asyncio.run(rig.ask("primary", tools=TOOLS))

    assert "b" not in rig.log and rig.log[-1] == "c"


def test_a_model_that_refuses_a_parameter_answers_the_refusal_without_trying_fallbacks() -> None:
    models = [model("picky", "b", fallbacks=("other",)), model("other", "c")]
    rig = build_rig(models, FakeProvider("b", refuses=frozenset({"tools"})), FakeProvider("c"))

    with pytest.raises(UnsupportedFeature, match="tools"):
        asyncio.run(rig.ask("picky", tools=TOOLS))

    assert rig.log == []


@MODES
def test_a_prompt_too_long_goes_to_the_context_window_fallback(stream: bool) -> None:
    models = [
        model("small", "a", fallbacks=("other",), context_window_fallbacks=("large",)),
        model("large", "b", price=LARGE_PRICE),
        model("other", "c"),
    ]
    small = FakeProvider("a", otherwise=Fail(ContextWindowExceeded))
    rig = build_rig(models, small, FakeProvider("b"), FakeProvider("c"))

    served = asyncio.run(rig.ask("small", stream=stream))

    assert served.model == "large"
    assert rig.log == ["a", "b"]  # the small model is not asked again, the outage fallback not at all
    assert served.attempts == 2
    assert served.cost == LARGE_PRICE.cost(REPORTED_USAGE)


def test_a_prompt_too_long_without_context_window_fallbacks_is_the_client_s_error() -> None:
    models = [model("small", "a", fallbacks=("other",)), model("other", "c")]
    rig = build_rig(models, FakeProvider("a", otherwise=Fail(ContextWindowExceeded)), FakeProvider("c"))

    with pytest.raises(ContextWindowExceeded):
        asyncio.run(rig.ask("small"))

    assert rig.log == ["a"]


@MODES
def test_a_pinned_provider_is_the_only_one_called_and_its_failure_is_returned(stream: bool) -> None:
    models = [model("primary", "a", "b", fallbacks=("second",)), model("second", "c")]
    rig = build_rig(models, FakeProvider("a", otherwise=DOWN), FakeProvider("b"), FakeProvider("c"))

    with pytest.raises(UpstreamUnavailable):
        asyncio.run(rig.ask("primary", stream=stream, hint="a"))

    assert rig.log == ["a", "a", "a"]


def test_a_pinned_request_is_served_by_the_pinned_deployment() -> None:
    models = [model("primary", "a", "b")]
    rig = build_rig(models, FakeProvider("a"), FakeProvider("b"))

    async def scenario() -> None:
        for _ in range(10):
            await rig.ask("primary", hint="b")

    asyncio.run(scenario())
    assert rig.log == ["b"] * 10


def test_pinning_a_provider_that_does_not_serve_the_model_is_refused_before_any_call() -> None:
    rig = build_rig([model("primary", "a")], FakeProvider("a"), FakeProvider("b"))

    with pytest.raises(ProviderMismatch, match="'a'"):
        asyncio.run(rig.ask("primary", hint="b"))

    assert rig.log == []


def test_a_pinned_provider_that_refuses_a_parameter_answers_the_refusal() -> None:
    models = [model("m", "a", "b")]
    rig = build_rig(models, FakeProvider("a", refuses=frozenset({"tools"})), FakeProvider("b"))

    with pytest.raises(UnsupportedFeature, match="tools"):
        asyncio.run(rig.ask("m", hint="a", tools=TOOLS))

    assert rig.log == []
