"""A fake Gemini API server (generateContent and streamGenerateContent?alt=sse)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tests.fakes.embeddings_upstream import add_gemini_embeddings
from tests.fakes.upstream import TOOL_ARGUMENTS, TOOL_NAME, Behaviour, FakeUpstream, Turn, words

DEFAULT_USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18}
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    529: "UNAVAILABLE",
}


class FakeGemini(FakeUpstream):
    def app(self) -> web.Application:
        app = web.Application()
        add_gemini_embeddings(app, self)
        app.router.add_post("/{version}/models/{call}", self._generate)
        return app

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        body["_model"], _, method = request.match_info["call"].partition(":")
        behaviour = self.next_behaviour(request, body)
        await self.delay(behaviour)
        if behaviour.status != 200:
            error = behaviour.error_body or {
                "error": {
                    "code": behaviour.status,
                    "message": f"fake error {behaviour.status}",
                    "status": STATUS.get(behaviour.status, "UNKNOWN"),
                }
            }
            return web.json_response(error, status=behaviour.status, headers=behaviour.headers)
        if method == "streamGenerateContent":
            return await self.stream_events(request, behaviour, _events(body, behaviour))
        if behaviour.malformed:
            return web.Response(text="{this is not json", content_type="application/json")
        answer = behaviour.answer or _response(body, behaviour, _answer_parts(behaviour), final=True)
        return web.json_response(answer)

    def system_prompt(self) -> str:
        system = self.last.body.get("systemInstruction") or {}
        return "\n\n".join(part.get("text", "") for part in system.get("parts", []))

    def turns(self) -> list[Turn]:
        turns = []
        for content in self.last.body["contents"]:
            pieces = []
            for part in content["parts"]:
                if "text" in part:
                    pieces.append(part["text"])
                elif "inlineData" in part or "fileData" in part:
                    pieces.append("[image]")
                elif "functionCall" in part:
                    call = part["functionCall"]
                    pieces.append(f"call {call['name']}({json.dumps(call.get('args', {}))})")
                elif "functionResponse" in part:
                    response = part["functionResponse"]
                    pieces.append(f"result({response['name']})={response['response'].get('content')}")
            turns.append(
                Turn("assistant" if content["role"] == "model" else content["role"], " ".join(pieces))
            )
        return turns

    def stop_sequences(self) -> list[str]:
        return list((self.last.body.get("generationConfig") or {}).get("stopSequences") or [])

    def max_tokens(self) -> int | None:
        value = (self.last.body.get("generationConfig") or {}).get("maxOutputTokens")
        return int(value) if value is not None else None


def _answer_parts(b: Behaviour) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if b.reasoning:
        parts.append({"text": b.reasoning, "thought": True})
    if b.tool_call:
        parts.append({"functionCall": {"name": TOOL_NAME, "args": TOOL_ARGUMENTS}})
    else:
        parts.append({"text": b.text})
    return parts


def _response(
    body: dict[str, Any], b: Behaviour, parts: list[dict[str, Any]], *, final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    response: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": body["_model"],
        "responseId": "gem-fake123",
    }
    if final:
        candidate["finishReason"] = FINISH[b.finish]
        if b.report_usage:
            response["usageMetadata"] = b.usage or DEFAULT_USAGE
    return response


def _events(body: dict[str, Any], b: Behaviour) -> Iterator[bytes]:
    def event(data: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(data).encode() + b"\r\n\r\n"

    if b.malformed:
        yield b"data: {not json\r\n\r\n"
    if b.reasoning:
        yield event(_response(body, b, [{"text": b.reasoning, "thought": True}], final=False))
    if b.tool_call:
        yield event(
            _response(body, b, [{"functionCall": {"name": TOOL_NAME, "args": TOOL_ARGUMENTS}}], final=True)
        )
        return
    pieces = list(words(b)) if not b.endless else words(b)
    previous: str | None = None
    for piece in pieces:
        if previous is not None:
            yield event(_response(body, b, [{"text": previous}], final=False))
        previous = piece
    yield event(_response(body, b, [{"text": previous or ""}], final=True))
