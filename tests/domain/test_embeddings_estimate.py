"""What admission holds for an embeddings request: its input, counted from `input`, and no output."""

from __future__ import annotations

from decimal import Decimal

from calcifer.domain.admission import estimate_request
from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect
from calcifer.domain.models import ModelMode, ModelSpec
from calcifer.domain.pricing import Price

EMBEDDER = ModelSpec("e", "openai", "e", Price(Decimal("0.02"), Decimal(0)), mode=ModelMode.EMBEDDING)


def embeddings(value: object) -> ChatRequest:
    return ChatRequest("e", {"model": "e", "input": value}, dialect=Dialect.EMBEDDINGS)


def test_texts_are_estimated_at_three_characters_a_token_and_nothing_is_generated() -> None:
    estimate = estimate_request(embeddings(["x" * 300, "y" * 30]), EMBEDDER)
    assert estimate.tokens == 100 + 10
    assert estimate.cost_usd == 110 * Decimal("0.02") / 1_000_000


def test_token_arrays_are_counted_exactly() -> None:
    assert estimate_request(embeddings([[1, 2, 3], [4]]), EMBEDDER).tokens == 4
    assert estimate_request(embeddings([7, 8, 9]), EMBEDDER).tokens == 3
    assert estimate_request(embeddings("a single text"), EMBEDDER).tokens == 5
