"""The two encodings of a vector: base64 is little-endian float32, the form the SDK decodes."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal

from calcifer.domain.usage import Usage
from calcifer.formats.embeddings import as_base64, as_floats, embeddings_body


def test_base64_is_little_endian_float32_and_decodes_back() -> None:
    vector = [1.0, -2.5, 0.125]
    encoded = as_base64(vector)
    assert base64.b64decode(encoded) == struct.pack("<3f", *vector)
    assert as_floats(encoded) == vector
    assert as_base64(encoded) == encoded  # an upstream's base64 is passed on untouched


def test_the_body_has_each_vector_in_the_clients_encoding_and_the_cost() -> None:
    body = embeddings_body([[0.5], "AAAAPw=="], "m", Usage(input_tokens=4), Decimal("0.1"), "float")
    assert [item["embedding"] for item in body["data"]] == [[0.5], [0.5]]
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4, "cost": Decimal("0.1")}
