"""What a request holds against a budget before it is served: its estimate, capped."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from calcifer.domain.access import ANONYMOUS, Principal
from calcifer.domain.admission import DEFAULT_OUTPUT_TOKENS, Admission, estimate_request
from calcifer.domain.chat import ChatRequest
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.errors import ModelNotAllowed

MODEL = ModelSpec("gpt-x", "openai", "gpt-x", Price(Decimal("2.50"), Decimal("10.00")), aliases=("x",))


def chat(text: str, **extra: object) -> ChatRequest:
    return ChatRequest("gpt-x", {"model": "gpt-x", "messages": [{"role": "user", "content": text}], **extra})


def test_the_estimate_prices_the_prompt_and_the_output_the_request_allows() -> None:
    estimate = estimate_request(chat("x" * 3000, max_tokens=1000), MODEL)
    prompt_tokens = 3000 // 3 + 8
    assert estimate.tokens == prompt_tokens + 1000
    assert estimate.cost_usd == (prompt_tokens * Decimal("2.50") + 1000 * Decimal("10.00")) / 1_000_000


def test_without_max_tokens_the_model_limit_or_a_default_is_assumed() -> None:
    assert estimate_request(chat("hi"), MODEL).tokens == 1 + 8 + DEFAULT_OUTPUT_TOKENS
    limited = ModelSpec("m", "p", "m", MODEL.price, max_output_tokens=100)
    assert estimate_request(chat("hi"), limited).tokens == 1 + 8 + 100


def test_a_key_limited_to_some_models_is_refused_others_by_any_of_their_names() -> None:
    admission = Admission(None, Decimal(1), fail_open=False)
    allowed = Principal(id="key_a", key_id="key_a", models=("x",))
    assert asyncio.run(admission.admit("r1", allowed, chat("hi"), MODEL)) is None
    refused = Principal(id="key_b", key_id="key_b", models=("other",))
    with pytest.raises(ModelNotAllowed):
        asyncio.run(admission.admit("r2", refused, chat("hi"), MODEL))
    assert asyncio.run(admission.admit("r3", ANONYMOUS, chat("hi"), MODEL)) is None
