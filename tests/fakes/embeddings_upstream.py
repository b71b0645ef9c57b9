"""Embeddings endpoints for the fake OpenAI and Gemini servers, each registered in one line.

The vectors are made so a test can tell which input each one belongs to and what was asked:
input i with text t gives `[len(t), i, 0.25, 0.5, …]`, `dimensions` long (8 by default). OpenAI
answers in the encoding asked for (base64 of little-endian float32, or floats) with usage in
words; Gemini answers floats and, like the real API, no token counts (unless scripted).
"""

from __future__ import annotations

import base64
from array import array
from typing import Any

from aiohttp import web

from tests.fakes.upstream import Behaviour, FakeUpstream

__all__ = ["add_gemini_embeddings", "add_openai_embeddings", "fake_vector"]

DEFAULT_DIMENSIONS = 8


def fake_vector(text: str | list[int], index: int, dimensions: int | None = None) -> list[float]:
    """The vector both fakes answer for input `index` (exact in float32: quarters and counts)."""
    tail = [0.25 * (n + 1) for n in range(max((dimensions or DEFAULT_DIMENSIONS) - 2, 0))]
    return [float(len(text)), float(index), *tail][: dimensions or DEFAULT_DIMENSIONS]


def add_openai_embeddings(app: web.Application, fake: FakeUpstream) -> None:
    """`POST /v1/embeddings`, and Azure's `/openai/deployments/{deployment}/embeddings`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        behaviour = fake.next_behaviour(request, body)
        await fake.delay(behaviour)
        if behaviour.status != 200:
            return _error(
                behaviour, {"message": f"fake error {behaviour.status}", "type": "fake", "code": None}
            )
        if behaviour.answer is not None:
            return web.json_response(behaviour.answer)
        inputs = _inputs(body["input"])
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": _encoded(vector, body.get("encoding_format")),
            }
            for index, vector in enumerate(
                fake_vector(item, i, body.get("dimensions")) for i, item in enumerate(inputs)
            )
        ]
        words = sum(len(item.split()) if isinstance(item, str) else len(item) for item in inputs)
        usage = behaviour.usage or {"prompt_tokens": words, "total_tokens": words}
        return web.json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})

    app.router.add_post("/v1/embeddings", handle)
    app.router.add_post("/openai/deployments/{deployment}/embeddings", handle)


def add_gemini_embeddings(app: web.Application, fake: FakeUpstream) -> None:
    """`POST /{version}/models/{model}:batchEmbedContents`; register it before a catch-all
    `models/{call}` route."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        body["_model"] = request.match_info["model"]
        behaviour = fake.next_behaviour(request, body)
        await fake.delay(behaviour)
        if behaviour.status != 200:
            return _error(
                behaviour, {"code": behaviour.status, "message": "fake error", "status": "UNAVAILABLE"}
            )
        embeddings = []
        for index, item in enumerate(body["requests"]):
            text = " ".join(part.get("text", "") for part in item["content"]["parts"])
            embeddings.append({"values": fake_vector(text, index, item.get("outputDimensionality"))})
        answer: dict[str, Any] = {"embeddings": embeddings}
        if behaviour.usage is not None:
            answer["usageMetadata"] = behaviour.usage
        return web.json_response(answer)

    app.router.add_post("/{version}/models/{model}:batchEmbedContents", handle)


def _inputs(value: Any) -> list[Any]:
    if isinstance(value, str) or (value and all(isinstance(item, int) for item in value)):
        return [value]
    return list(value)


def _encoded(vector: list[float], encoding: str | None) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(array("f", vector).tobytes()).decode()
    return vector


def _error(behaviour: Behaviour, error: dict[str, Any]) -> web.Response:
    body = behaviour.error_body or {"error": error}
    return web.json_response(body, status=behaviour.status, headers=behaviour.headers)
