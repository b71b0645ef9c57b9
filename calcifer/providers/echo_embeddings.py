"""The echo provider's embeddings: deterministic unit vectors made from each input's bytes,
offline and free of keys, so that the shipped configuration answers `/v1/embeddings` too.

The same input always gives the same vector (SHAKE-256 of its text, or of its token ids,
read as signed bytes and normalised), different inputs give unrelated ones; tokens are
counted in words, like the echo's chat.
"""

from __future__ import annotations

import hashlib
import math

from calcifer.domain.embeddings import Embeddings, Vector, embedding_inputs
from calcifer.domain.estimate import word_count
from calcifer.domain.provider import EmbeddingPolicy, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UnsupportedFeature

__all__ = ["DEFAULT_DIMENSIONS", "EMBEDDINGS", "MAX_DIMENSIONS", "echo_embeddings"]

DEFAULT_DIMENSIONS = 16
MAX_DIMENSIONS = 8192
EMBEDDINGS = EmbeddingPolicy(None, token_input=True, detail="accepted; `dimensions` sets the length")


def echo_embeddings(call: UpstreamCall) -> Embeddings:
    dimensions = call.request.body.get("dimensions") or DEFAULT_DIMENSIONS
    if dimensions > MAX_DIMENSIONS:
        raise UnsupportedFeature(f"echo makes at most {MAX_DIMENSIONS} dimensions", param="dimensions")
    inputs = embedding_inputs(call.request.body)
    vectors: list[Vector] = [_vector(_bytes_of(item), dimensions) for item in inputs]
    tokens = sum(word_count(item) if isinstance(item, str) else len(item) for item in inputs)
    return Embeddings(vectors, Usage(input_tokens=tokens), response_model=call.model.upstream_model)


def _bytes_of(item: str | list[int]) -> bytes:
    return item.encode() if isinstance(item, str) else ",".join(map(str, item)).encode()


def _vector(data: bytes, dimensions: int) -> list[float]:
    raw = [byte - 128 for byte in hashlib.shake_256(data).digest(dimensions)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]
