"""Embeddings as the gateway passes them around: one vector per input, and its usage.

An embeddings request travels as a `ChatRequest` with `dialect=EMBEDDINGS` whose `body` is
OpenAI's embeddings body (`model`, `input`, `dimensions`, `encoding_format`, `user`), so that
routing, retries, fallbacks, keys and the ledger serve it unchanged; the answer is its own type.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calcifer.domain.models import ModelSpec
from calcifer.domain.usage import Usage

__all__ = ["Embeddings", "PricedEmbeddings", "Vector", "embedding_inputs", "is_token_input"]

Vector = list[float] | str
"""A vector as the provider sent it: floats, or base64 of little-endian float32 (OpenAI's
`encoding_format: base64`); the renderer converts it to what the client asked for."""


@dataclass(slots=True)
class Embeddings:
    """A provider's answer: the vectors, in the order of the inputs."""

    vectors: list[Vector]
    usage: Usage
    response_model: str | None = None
    """The model that answered, as the provider names it."""
    response_id: str | None = None
    finish_reasons: tuple[str, ...] = ()
    """Always empty (nothing is generated); here so that an answer reads like any other."""


@dataclass(slots=True)
class PricedEmbeddings:
    embeddings: Embeddings
    model: ModelSpec
    cost: Decimal
    upstream_seconds: float = 0.0
    attempts: int = 1


def embedding_inputs(body: dict[str, Any]) -> list[str] | list[list[int]]:
    """The request's `input` as a list of texts or of token arrays (validated by the parser):
    a single string or a single token array becomes a list of one."""
    value = body["input"]
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(item, int) for item in value):
        return [value]
    return list(value)


def is_token_input(inputs: list[str] | list[list[int]]) -> bool:
    return bool(inputs) and not isinstance(inputs[0], str)
