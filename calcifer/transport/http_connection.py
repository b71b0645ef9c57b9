"""One connection to a provider, one exchange at a time: llhttp's callbacks fill the answer.

Used by `calcifer.transport.http_client`; `calcifer.transport.http_pool` keeps these.
Errors are those of `calcifer.transport.base`.
"""

from __future__ import annotations

import asyncio
import select
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import httptools

from calcifer.transport.base import BadHttp, ConnectionDropped, TransportError

if TYPE_CHECKING:
    from calcifer.transport.http_pool import OriginPool

__all__ = ["Connection", "Origin"]

_FINISH_SECONDS = 5.0
"""How long a released answer may take to finish arriving before its connection is dropped."""
_READ_HIGH_WATER = 256 * 1024
"""Bytes of body buffered before the client stops reading from the socket."""


@dataclass(frozen=True, slots=True)
class Origin:
    tls: bool
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


class Connection(asyncio.Protocol):
    """One connection, one exchange at a time: llhttp's callbacks fill the current answer."""

    def __init__(self, origin: Origin, pool: OriginPool) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.registered = False
        """Made, and counted by the pool until it is lost."""
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._fileno = -1
        self._closed = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._begin()

    def _begin(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._started = False
        self._interim = False
        self._complete = False
        self._keep_alive = False
        self._until_close = False
        self._inflater: zlib._Decompress | None = None
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._error: TransportError | None = None
        self._on_complete: Callable[[Connection], None] | None = None
        self._give_up: asyncio.TimerHandle | None = None

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self._closed

    def sound_for_reuse(self) -> bool:
        """Kept, and neither closed nor spoken to since. The socket itself is asked, without
        waiting: a server's close (or any byte) that arrived after the event loop last polled
        is seen here, before a request is written on it. (A byte on an idle connection is
        never good news: HTTP/1.1 servers speak only to answer.)"""
        if not self.reusable:
            return False
        if self._fileno < 0:
            return True
        poller = select.poll()
        poller.register(self._fileno, select.POLLIN)
        return not poller.poll(0)

    @property
    def may_finish(self) -> bool:
        return self._started and self._keep_alive and not self._closed and self._error is None

    def keep_when_complete(self, keep: Callable[[Connection], None]) -> None:
        """Hand this connection to `keep` once the rest of the answer, unread, has arrived."""
        self._pieces.clear()
        self._on_complete = keep
        self._give_up = asyncio.get_running_loop().call_later(_FINISH_SECONDS, self.abort)
        if self._paused and self._transport is not None:  # the rest must be read to arrive
            self._paused = False
            self._transport.resume_reading()

    # --- used by the client ----------------------------------------------------------

    def send(self, request: bytes) -> None:
        if self._transport is None or self._closed:
            raise ConnectionDropped("the connection is closed")
        self._begin()
        self._transport.write(request)

    async def response_started(self) -> None:
        while not self._started:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def next_piece(self) -> bytes | None:
        """Body received since the last call; None once the answer is complete."""
        while not self._pieces:
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            await self._wait()
        pieces, self._pieces, self._buffered = self._pieces, [], 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def abort(self) -> None:
        if self._give_up is not None:
            self._give_up.cancel()
            self._give_up = None
        if not self._closed:
            self._closed = True
            if self._transport is not None:
                self._transport.abort()

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- asyncio protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        raw = transport.get_extra_info("socket")
        self._fileno = raw.fileno() if raw is not None else -1
        self.registered = True
        self._pool.opened(self)

    def data_received(self, data: bytes) -> None:
        if self._complete:  # bytes nobody asked for: this connection can no longer be trusted
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self._complete:  # bytes after a complete answer only spoil the connection
                self._fail(BadHttp(f"the answer is not valid HTTP: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._pool.lost(self)
        if self._started and self._until_close and not self._complete:
            self.on_message_complete()  # the body was delimited by the end of the connection
        elif not self._complete:
            self._fail(ConnectionDropped("the connection closed before the answer was complete"))

    def _fail(self, error: TransportError) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    # --- llhttp callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise BadHttp("a second answer to one request")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200:  # 100 Continue, 103 Early Hints: the answer is still to come
            self._interim = True
            return
        self._keep_alive = self._parser.should_keep_alive()
        headers = self.headers
        self._until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and self.status not in (204, 304)
        )
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        self._started = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._inflater is not None:
            try:
                body = self._inflater.decompress(body)
            except zlib.error as exc:
                self._fail(BadHttp(f"the answer's compressed body is corrupt: {exc}"))
                self.abort()
                return
            if not body:
                return
        if self._on_complete is not None:
            return  # released: nobody will read the rest
        self._pieces.append(body)
        self._buffered += len(body)
        if self._buffered > _READ_HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self.headers, self.status = {}, 0
            return
        if self._inflater is not None:
            rest = self._inflater.flush()
            if rest:
                self._pieces.append(rest)
        self._complete = True
        self._wake()
        if self._on_complete is not None:
            keep, self._on_complete = self._on_complete, None
            if self._give_up is not None:
                self._give_up.cancel()
                self._give_up = None
            keep(self)
