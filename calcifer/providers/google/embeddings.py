"""Gemini embeddings through the google-genai SDK (`batchEmbedContents`): OpenAI's request in
the SDK's terms, and the floats it answers with read back with their usage.

Gemini embeds text only (no token arrays); `dimensions` becomes `output_dimensionality`. The
Gemini API reports no token counts for embeddings today: when the answer has none, the usage is
the gateway's estimate, flagged as such.
"""

from __future__ import annotations

from google.genai import types

from calcifer.domain.embeddings import Embeddings, Vector, embedding_inputs
from calcifer.domain.provider import EMBEDDING_FIELDS, EmbeddingPolicy, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.providers.upstream_errors import unreadable
from calcifer.providers.usage_reading import estimated_input_usage

__all__ = ["EMBEDDINGS", "embed_request", "read_embeddings"]

EMBEDDINGS = EmbeddingPolicy(
    EMBEDDING_FIELDS,
    token_input=False,
    detail="`dimensions` → `output_dimensionality`; `encoding_format` and `user` kept by the gateway",
)


def embed_request(call: UpstreamCall) -> tuple[list[str], types.EmbedContentConfig]:
    """The texts to embed (the parameter table refused token arrays) and the SDK's config."""
    texts = [str(text) for text in embedding_inputs(call.request.body)]
    return texts, types.EmbedContentConfig(output_dimensionality=call.request.body.get("dimensions"))


def read_embeddings(
    provider: str, response: types.EmbedContentResponse, call: UpstreamCall, count: int
) -> Embeddings:
    embeddings = response.embeddings or []
    vectors: list[Vector] = [list(item.values) for item in embeddings if item.values is not None]
    if len(vectors) != count:
        raise unreadable(provider, f"{len(vectors)} embeddings for {count} inputs")
    reported = response.usage_metadata.prompt_token_count if response.usage_metadata else None
    usage = Usage(input_tokens=reported) if reported is not None else estimated_input_usage(call)
    return Embeddings(vectors, usage, response_model=call.model.upstream_model)
