"""OpenAI's embeddings wire format: the request's checks, the `list` of `embedding` objects,
and the two encodings of a vector (floats, or base64 of little-endian float32).

The official SDK asks for base64 whenever its caller leaves `encoding_format` out, and decodes
it as little-endian float32 (`openai/lib/_parsing/_embeddings.py`); an upstream that answers in
floats only (Gemini) therefore has its vectors encoded here.
"""

from __future__ import annotations

import base64
import sys
from array import array
from decimal import Decimal
from typing import Any

from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect
from calcifer.domain.embeddings import Vector
from calcifer.domain.usage import Usage
from calcifer.errors import InvalidRequest

__all__ = [
    "BASE64",
    "FLOAT",
    "MAX_INPUTS",
    "as_base64",
    "as_floats",
    "embeddings_body",
    "parse_embeddings_request",
]

FLOAT = "float"
BASE64 = "base64"
MAX_INPUTS = 2048
"""OpenAI's limit on inputs in one request."""
_INPUT_SHAPES = "a string, a list of strings, a list of token ids or a list of token-id lists"


def parse_embeddings_request(body: dict[str, Any], provider_hint: str | None) -> ChatRequest:
    """An OpenAI embeddings body, checked; other fields are kept for the provider to judge."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required, a non-empty string", param="model")
    _check_input(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is not None and not (_is_int(dimensions) and dimensions >= 1):
        raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")
    if body.get("encoding_format") not in (None, FLOAT, BASE64):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise InvalidRequest("'user' must be a string", param="user")
    return ChatRequest(model=model, body=body, provider_hint=provider_hint, dialect=Dialect.EMBEDDINGS)


def _check_input(value: Any) -> None:
    if value is None:
        raise InvalidRequest("'input' is required", param="input")
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(_is_int(item) for item in value):
        items = [value]  # one token array
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidRequest(f"'input' must be {_INPUT_SHAPES}", param="input")
    if not items:
        raise InvalidRequest("'input' must not be an empty list", param="input")
    if len(items) > MAX_INPUTS:
        raise InvalidRequest(
            f"'input' has {len(items)} items; at most {MAX_INPUTS} are accepted", param="input"
        )
    texts = all(isinstance(item, str) for item in items)
    tokens = all(isinstance(item, list) and all(_is_int(t) and t >= 0 for t in item) for item in items)
    if not (texts or tokens):
        raise InvalidRequest(f"'input' must be {_INPUT_SHAPES}, not a mix", param="input")
    for index, item in enumerate(items):
        if not item:
            where = "input" if isinstance(value, str) else f"input[{index}]"
            raise InvalidRequest(f"'{where}' is empty: there is nothing to embed", param=where)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def embeddings_body(
    vectors: list[Vector], model: str, usage: Usage, cost: Decimal, encoding: str
) -> dict[str, Any]:
    """The `list` answer, each vector in the client's encoding, `usage.cost` in USD."""
    convert = as_base64 if encoding == BASE64 else as_floats
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": convert(vector)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens, "cost": cost},
    }


def as_base64(vector: Vector) -> str:
    """Base64 of the vector as little-endian float32, the encoding the SDK decodes."""
    if isinstance(vector, str):
        return vector
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def as_floats(vector: Vector) -> list[float]:
    if not isinstance(vector, str):
        return vector
    unpacked = array("f")
    unpacked.frombytes(base64.b64decode(vector))
    if sys.byteorder == "big":
        unpacked.byteswap()
    return unpacked.tolist()
