"""`POST /v1/responses`: the OpenAI Responses dialect.

Passed through to a provider that speaks it (its events relayed as sent), bridged through the
canonical chat request to any other (events rendered by `ResponseEvents`). With `store` true
(the default) the response and the input it answered are kept before the client gets the
answer's last byte, so the next turn's `previous_response_id` finds it on any worker or replica.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.ports import ResponseStore, StoredResponse
from calcifer.domain.priced_stream import PricedStream
from calcifer.formats import openai_chat as chat_wire
from calcifer.formats import openai_responses as wire
from calcifer.formats import openai_responses_output as out
from calcifer.formats.openai_responses_events import ResponseEvents
from calcifer.http.api.openai_responses_state import response_store, visible_response
from calcifer.http.api.serving import serve_chat
from calcifer.http.jsonio import dumps
from calcifer.http.scope import RequestScope
from calcifer.http.sse import SseSink

__all__ = ["create_response"]

_TERMINAL = frozenset({"response.completed", "response.incomplete"})


async def create_response(request: Request, scope: RequestScope) -> HTTPResponse | None:
    turn = _Turn(response_store(request), scope)
    return await serve_chat(request, scope, turn.parse, turn.body_of, turn.send_stream)


class _Turn:
    """One `POST /v1/responses`: the state its parse, answer and stream share."""

    def __init__(self, store: ResponseStore, scope: RequestScope) -> None:
        self._store = store
        self._scope = scope
        self._id = out.new_id("resp")
        self._created_at = int(time.time())
        self._body: dict[str, Any] = {}
        self._items: list[dict[str, Any]] = []
        """The whole input this response answers: earlier turns' items, then this request's."""

    async def parse(self, body: dict[str, Any], provider_hint: str | None) -> ChatRequest:
        previous = body.get("previous_response_id")
        history = None
        if isinstance(previous, str):
            stored = await visible_response(
                self._store, previous, self._scope.principal, "previous_response_id"
            )
            history = [*stored.input_items, *(stored.response.get("output") or ())]
        chat = wire.parse_responses_request(body, provider_hint, history)
        self._body = body
        self._items = [*(history or ()), *wire.input_items(body.get("input"))]
        return chat

    async def body_of(self, priced: PricedCompletion) -> dict[str, Any]:
        completion = priced.completion
        if completion.native:  # the provider's own response: its usage gains the cost
            response = (
                chat_wire.with_usage_cost(completion.body, priced.cost, completion.usage) or completion.body
            )
        else:
            response = self._bridged(priced)
        await self._keep(response)
        return response

    async def send_stream(self, sink: SseSink, stream: PricedStream, chat: ChatRequest) -> None:
        response = out.response_object(self._id, stream.model.name, self._body, created_at=self._created_at)
        events = ResponseEvents(response, wire.custom_tool_names(self._body), dumps)
        relayed = _Relay()
        async with aclosing(stream.chunks()) as chunks, sink.errors_as(lambda e: relayed.failed(events, e)):
            pending, first = b"", True
            async for chunk in chunks:
                if chunk.native:
                    pending += await self._relay(chunk.data, chunk.raw or b"", relayed)
                else:
                    pending += (b"" if events.started else events.start()) + events.feed(chunk.data)
                # One write for the chunks that arrived together; the first goes alone, at once.
                if pending and (first or not chunk.more):
                    await sink.send(pending)
                    pending, first = b"", False
            if not relayed.sequence and stream.usage is not None:
                pending += events.finish(out.responses_usage(stream.usage, stream.cost))
                await self._keep(events.response)
                pending += events.terminal()
            await sink.send(pending)

    async def _relay(self, data: dict[str, Any], frame: bytes, relayed: _Relay) -> bytes:
        """A pass-through event, unchanged; the response is stored before its terminal event."""
        number = data.get("sequence_number")
        relayed.sequence = (number if isinstance(number, int) else relayed.sequence) + 1
        if data.get("type") in _TERMINAL and isinstance(data.get("response"), dict):
            await self._keep(data["response"])
        return frame

    def _bridged(self, priced: PricedCompletion) -> dict[str, Any]:
        completion = priced.completion
        choice = (completion.body.get("choices") or [{}])[0]
        status, details = out.status_of(choice.get("finish_reason"))
        custom = wire.custom_tool_names(self._body)
        output = out.output_items(choice.get("message") or {}, custom)
        response = out.response_object(
            self._id, priced.model.name, self._body, created_at=self._created_at, status=status, output=output
        )
        response["incomplete_details"] = details
        response["usage"] = out.responses_usage(completion.usage, priced.cost)
        return response

    async def _keep(self, response: dict[str, Any]) -> None:
        if self._body.get("store") is False or not isinstance(response.get("id"), str):
            return
        owner = self._scope.principal.id
        stored = StoredResponse(response["id"], owner, datetime.now(UTC), self._items, response)
        await self._store.save_response(stored)


class _Relay:
    """Where a pass-through stream is, for the error event that may have to end it."""

    def __init__(self) -> None:
        self.sequence = 0

    def failed(self, events: ResponseEvents, body: dict[str, Any]) -> bytes:
        error = body["error"]
        if not self.sequence:  # bridged: the response fails, under its own id
            return events.failed(error)
        payload = {"type": "error", "code": error.get("code"), "message": error.get("message"),
                   "param": None, "sequence_number": self.sequence}  # fmt: skip
        return b"event: error\ndata: " + dumps(payload) + b"\n\n"
