"""What every fake provider server shares: a script of behaviours, a record of requests,
and a view of the last request in provider-neutral terms for the conformance suite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import BackgroundServer


@dataclass
class Behaviour:
    """How the fake answers one request. `usage` is in the provider's own format."""

    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = "Hello from the fake upstream"
    usage: dict[str, Any] | None = None
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after_chunks: int | None = None
    malformed: bool = False
    hang_up: bool = False
    """Read the request, then close the connection without a word (it may have been acted on)."""
    endless: bool = False
    finish: str = "stop"
    """Neutral finish: stop, length, tool_calls or content_filter; each fake says it natively."""
    tool_call: bool = False
    """Answer with a get_weather(city=Paris) tool call instead of text."""
    reasoning: str | None = None
    """Hidden reasoning to report alongside the answer, where the provider has it."""
    answer: dict[str, Any] | None = None
    """A whole non-streamed answer body to send as is (shapes the provider may or may not send)."""
    stream_error: dict[str, Any] | None = None
    """An error event, in the provider's shape, sent after the first stream event."""
    report_usage: bool = True
    """False: a stream without any usage report (no usage chunk, usage fields or usage metadata)."""
    web_searches: int = 0
    """Server-side web searches the answer reports (Responses: `web_search_call` output items)."""
    service_tier: str | None = None
    """The tier the answer says served it, where the provider reports one (OpenAI: every chunk)."""


TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = {"city": "Paris"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)
    peer: tuple[str, int] | None = None
    """The gateway's end of the connection the request came on."""


@dataclass
class Turn:
    role: str
    text: str


class FakeUpstream:
    """Subclasses add routes and speak their provider's wire format."""

    def __init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self._by_model: dict[str, deque[Behaviour]] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.disconnects: list[float] = []
        self.server = BackgroundServer(self.app)

    def app(self) -> web.Application:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self.server.url

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def script_model(self, model: str, *behaviours: Behaviour) -> None:
        """Behaviours for the next requests naming `model` (before the general script)."""
        with self._lock:
            self._by_model.setdefault(model, deque()).extend(behaviours)

    def received_for(self, model: str) -> list[Received]:
        return [r for r in self.received if r.body.get("model", r.body.get("_model")) == model]

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._by_model.clear()
            self.received.clear()
            self.disconnects.clear()

    @property
    def last(self) -> Received:
        return self.received[-1]

    def next_behaviour(self, request: web.Request, body: dict[str, Any]) -> Behaviour:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.received.append(
            Received(request.path, dict(request.headers), body, dict(request.query), peer and tuple(peer[:2]))
        )
        with self._lock:
            queue = self._by_model.get(str(body.get("model", body.get("_model"))))
            if queue:
                return queue.popleft()
            return self._script.popleft() if self._script else Behaviour()

    # provider-neutral views of the last request, for the conformance suite
    def system_prompt(self) -> str:
        raise NotImplementedError

    def turns(self) -> list[Turn]:
        raise NotImplementedError

    def stop_sequences(self) -> list[str]:
        raise NotImplementedError

    def max_tokens(self) -> int | None:
        raise NotImplementedError

    async def stream_events(
        self, request: web.Request, behaviour: Behaviour, events: Iterable[bytes]
    ) -> web.StreamResponse:
        """Write SSE events with the behaviour's pacing and faults; note a client leaving."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for index, event in enumerate(events):
                if behaviour.cut_after_chunks is not None and index == behaviour.cut_after_chunks:
                    assert request.transport is not None
                    request.transport.close()
                    return response
                if index and behaviour.chunk_delay:
                    await asyncio.sleep(behaviour.chunk_delay)
                await response.write(event)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects.append(time.monotonic())
            raise
        await response.write_eof()
        return response

    async def delay(self, behaviour: Behaviour) -> None:
        if behaviour.first_byte_delay:
            await asyncio.sleep(behaviour.first_byte_delay)


def words(behaviour: Behaviour) -> AsyncIterator[str] | Iterable[str]:
    """The reply text in stream pieces; forever when the behaviour is endless."""
    pieces = behaviour.text.split(" ")

    def generate() -> Iterable[str]:
        first = True
        while True:
            for piece in pieces:
                yield piece if first else " " + piece
                first = False
            if not behaviour.endless:
                return

    return generate()
