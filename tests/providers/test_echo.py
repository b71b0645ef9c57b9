"""The echo provider bounds its work: no answer longer than the model's output limit."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import ChatRequest
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.provider import UpstreamCall
from calcifer.providers.echo import EchoProvider
from calcifer.transport.registry import Transports


def echo_call(content: str, max_output_tokens: int) -> UpstreamCall:
    body = {"model": "echo4", "messages": [{"role": "user", "content": content}]}
    model = ModelSpec(
        "echo4", "echo", "echo4", Price(Decimal(1), Decimal(1)), max_output_tokens=max_output_tokens
    )
    return UpstreamCall(ChatRequest("echo4", body), model)


def test_an_echo_stops_at_the_models_max_output_tokens() -> None:
    provider = EchoProvider(ProviderConfig("echo", "echo"), Transports())
    completion = asyncio.run(provider.complete(echo_call("one two three four five", 3)))
    assert completion.body["choices"][0]["message"]["content"] == "[user]: one two three"
    assert completion.finish_reasons == ("length",)
    assert completion.usage.output_tokens == 3
