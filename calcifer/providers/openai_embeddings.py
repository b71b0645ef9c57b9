"""OpenAI's `POST /embeddings` for the `openai` provider: the body sent and the answer read.

The client's body goes up as sent (only the model mapped), so an OpenAI-compatible server gets
its own extensions and the encoding the client asked for; the vectors come back as they were
sent, floats or base64, and the renderer converts them only when it must.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calcifer.domain.embeddings import Embeddings, Vector, embedding_inputs
from calcifer.domain.provider import EmbeddingPolicy, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.providers.upstream_errors import unreadable
from calcifer.providers.usage_reading import estimated_input_usage, read_usage, tokens

__all__ = ["EMBEDDINGS", "embeddings_request", "read_embeddings"]

EMBEDDINGS = EmbeddingPolicy(None, token_input=True, detail="forwarded as sent, the model mapped")


def embeddings_request(call: UpstreamCall) -> dict[str, Any]:
    return {**call.request.body, "model": call.model.upstream_model}


def read_embeddings(provider: str, data: dict[str, Any], call: UpstreamCall) -> Embeddings:
    """The answer's vectors in input order, and its usage (estimated when unreadable)."""
    items = data.get("data")
    if not isinstance(items, list) or not all(_is_embedding(item) for item in items):
        raise unreadable(provider, "an embeddings answer without a list of embeddings")
    asked = len(embedding_inputs(call.request.body))
    if len(items) != asked:
        raise unreadable(provider, f"{len(items)} embeddings for {asked} inputs")
    ordered = sorted(items, key=lambda item: item.get("index", 0))
    vectors: list[Vector] = [item["embedding"] for item in ordered]
    usage = read_usage(_usage, data.get("usage")) or estimated_input_usage(call)
    model = data.get("model")
    return Embeddings(vectors, usage, response_model=model if isinstance(model, str) else None)


def _is_embedding(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("embedding"), list | str)
        and isinstance(item.get("index", 0), int)
    )


def _usage(report: Mapping[str, Any]) -> Usage:
    return Usage(input_tokens=tokens(report, "prompt_tokens"))
