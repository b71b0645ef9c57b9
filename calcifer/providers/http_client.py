"""A small HTTP/1.1 client for calls to providers: a keep-alive pool, TLS, bodies as they arrive.

Why not aiohttp's client: a gateway sends a body it already holds and forwards what comes
back. aiohttp builds request and response objects, a payload from a registry, timer handles
and a stream reader for each call; on a streamed answer that is 0.13 ms of CPU and 0.08 ms
before the first byte more than this client (docs/performance.md), on every request. The
HTTP parsing is httptools (llhttp, the parser Sanic and uvicorn use).

Supported: HTTP and HTTPS (system CA bundle as certifi ships it, like the vendor SDKs),
`Content-Length`, chunked and read-until-close bodies, gzip/deflate answers, keep-alive,
back-pressure on bodies nobody reads.

A POST is not safe to send twice (RFC 9112 §9.3.1), with one exception made here: a pooled
connection that the server closed for idleness just as the request went out. That shows as
a drop with no byte of answer, within moments of sending; the request is then sent once more
on a new connection. Any other failure is the gateway's to retry or report, by its policy.

Through an HTTP proxy (`calcifer.providers.http_proxy`): HTTPS origins over a CONNECT
tunnel, HTTP origins with absolute-form requests. Not supported: HTTP/2, redirects
(provider APIs answer a POST where it was sent).

Errors:
    HttpClientError
    ├── ConnectError        the server could not be reached
    └── ConnectionDropped   the connection failed or the answer broke HTTP
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

import certifi
import httptools

from calcifer.providers.http_proxy import Proxy

__all__ = ["ConnectError", "ConnectionDropped", "HttpClient", "HttpClientError", "Response"]

_IDLE_SECONDS = 30.0
"""How long an idle connection is kept: less than providers' own keep-alive limits, so the
pool rarely hands out a connection the server is about to close."""
_DNS_SECONDS = 300.0
_IDLE_CLOSE_SECONDS = 1.0
"""A drop this soon after sending, with no answer, is a server's idle close crossing the request."""
_FINISH_SECONDS = 5.0
"""How long a released answer may take to finish arriving before its connection is dropped."""
_READ_HIGH_WATER = 256 * 1024
"""Bytes of body buffered before the client stops reading from the socket."""


class HttpClientError(Exception):
    """A request that got no complete HTTP answer."""


class ConnectError(HttpClientError):
    pass


class ConnectionDropped(HttpClientError):
    pass


@dataclass(frozen=True, slots=True)
class _Origin:
    tls: bool
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


@lru_cache(maxsize=512)
def _split(url: str) -> tuple[_Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    tls = parts.scheme == "https"
    origin = _Origin(tls, parts.hostname, parts.port or (443 if tls else 80))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return origin, target


class HttpClient:
    """Connections kept per origin (last used first); one per request in flight."""

    def __init__(
        self, *, connect_timeout: float, tls: ssl.SSLContext | None = None, proxy: Proxy | None = None
    ) -> None:
        """`tls`: how to check servers' certificates; by default against certifi's CA bundle.
        `proxy`: where every connection goes first."""
        self._connect_timeout = connect_timeout
        self._proxy = proxy
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._addresses: dict[_Origin, tuple[float, list[str]]] = {}
        self._tls = tls

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """Send a POST and wait for the answer's status and headers."""
        origin, target = _split(url)
        if self._proxy is not None and not origin.tls:  # a plain-HTTP proxy wants the whole URL
            target, headers = url, {**headers, **self._proxy.headers()}
        request = _request_bytes(origin, target, body, headers)
        connection = self._idle_connection(origin)
        if connection is not None:
            try:
                return await self._exchange(connection, request)
            except ConnectionDropped:
                if not connection.closed_while_idle:
                    raise
        return await self._exchange(await self._connect(origin), request)

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()

    async def _exchange(self, connection: _Connection, request: bytes) -> Response:
        try:
            connection.send(request)
            await connection.response_started()
        except BaseException:
            connection.abort()
            raise
        return Response(connection, self)

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable and now - connection.idle_since < _IDLE_SECONDS:
                return connection
            connection.abort()
        return None

    def _keep(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.origin, deque())
        connection.idle_since = now = time.monotonic()
        idle.append(connection)
        while idle and (not idle[0].reusable or now - idle[0].idle_since >= _IDLE_SECONDS):
            idle.popleft().abort()

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.tls else None
        if self._proxy is not None:
            async with asyncio.timeout(self._connect_timeout):
                return await self._connect_through(self._proxy, origin, tls)
        failure: OSError | None = None
        async with asyncio.timeout(self._connect_timeout):
            for address in await self._resolve(origin):
                try:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(origin, self._open),
                        address,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls else None,
                    )
                    return connection
                except OSError as exc:  # refused, unreachable, TLS handshake: try the next address
                    failure = exc
        raise ConnectError(f"could not connect to {origin.host_header}: {failure}") from failure

    async def _connect_through(
        self, proxy: Proxy, origin: _Origin, tls: ssl.SSLContext | None
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(origin, self._open)
        try:
            if tls is None:
                await loop.create_connection(lambda: connection, proxy.host, proxy.port)
                return connection
            tunnel = await proxy.tunnel(origin.host, origin.port)
            try:
                secured = await loop.start_tls(tunnel, connection, tls, server_hostname=origin.host)
            except BaseException:
                tunnel.abort()
                raise
        except OSError as exc:  # the proxy refused or is down, or the TLS handshake failed
            raise ConnectError(f"could not connect to {origin.host_header} through the proxy: {exc}") from exc
        assert secured is not None
        connection.connection_made(secured)  # start_tls hands the protocol a transport, silently
        return connection

    async def _resolve(self, origin: _Origin) -> list[str]:
        """The origin's addresses, cached: a burst of new connections should not each ask DNS."""
        cached = self._addresses.get(origin)
        if cached is not None and time.monotonic() - cached[0] < _DNS_SECONDS:
            return cached[1]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectError(f"could not resolve {origin.host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._addresses[origin] = (time.monotonic(), addresses)
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=certifi.where())
            self._tls.set_alpn_protocols(["http/1.1"])  # the only protocol this client speaks
        return self._tls


class Response:
    """An answer whose status and headers have arrived; its body is read once, by `read` or
    `next_piece`. `release` when done with it; `close` to abandon it (the connection is dropped,
    which is how a provider learns to stop generating)."""

    __slots__ = ("_client", "_connection", "headers", "status")

    def __init__(self, connection: _Connection, client: HttpClient) -> None:
        self._connection = connection
        self._client = client
        self.status = connection.status
        self.headers: Mapping[str, str] = connection.headers
        """Lower-case names; repeated headers joined with ", "."""

    async def read(self) -> bytes:
        pieces = []
        while (piece := await self.next_piece()) is not None:
            pieces.append(piece)
        return b"".join(pieces)

    def next_piece(self) -> Awaitable[bytes | None]:
        """The body as it arrives: everything received since the last call, together;
        None at its end."""
        return self._connection.next_piece()

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool, once the answer has
        fully arrived (a stream's terminating chunk often lands just after `[DONE]`)."""
        connection = self._connection
        if connection.reusable:
            self._client._keep(connection)
        elif connection.may_finish:
            connection.keep_when_complete(self._client._keep)
        else:
            connection.abort()

    def close(self) -> None:
        self._connection.abort()


def _request_bytes(origin: _Origin, target: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {origin.host_header}", f"Content-Length: {len(body)}"]
    encoding_set = False
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ConnectError(f"header {name!r} holds a line break")
        encoding_set = encoding_set or name.lower() == "accept-encoding"
        lines.append(f"{name}: {value}")
    if not encoding_set:
        lines.append("Accept-Encoding: identity")  # compression costs more CPU than it saves here
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ConnectError("a header holds characters HTTP cannot carry") from exc
    return head + body


class _Connection(asyncio.Protocol):
    """One connection, one exchange at a time: llhttp's callbacks fill the current answer."""

    def __init__(self, origin: _Origin, registry: set[_Connection]) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._closed = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._begin()

    def _begin(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._received_any = False
        self._sent_at = 0.0
        self._lost_at: float | None = None
        self._started = False
        self._interim = False
        self._complete = False
        self._keep_alive = False
        self._until_close = False
        self._inflater: zlib._Decompress | None = None
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._error: HttpClientError | None = None
        self._on_complete: Callable[[_Connection], None] | None = None
        self._give_up: asyncio.TimerHandle | None = None

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self._closed

    @property
    def closed_while_idle(self) -> bool:
        """Dropped unanswered right after the request went out: the server had closed it."""
        lost = self._lost_at
        return not self._received_any and lost is not None and lost - self._sent_at < _IDLE_CLOSE_SECONDS

    @property
    def may_finish(self) -> bool:
        return self._started and self._keep_alive and not self._closed and self._error is None

    def keep_when_complete(self, keep: Callable[[_Connection], None]) -> None:
        """Hand this connection to `keep` once the rest of the answer, unread, has arrived."""
        self._pieces.clear()
        self._on_complete = keep
        self._give_up = asyncio.get_running_loop().call_later(_FINISH_SECONDS, self.abort)

    # --- used by the client ----------------------------------------------------------

    def send(self, request: bytes) -> None:
        if self._transport is None or self._closed:
            raise ConnectionDropped("the connection is closed")
        self._begin()
        self._sent_at = time.monotonic()
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
        self._registry.add(self)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        if self._complete:  # bytes nobody asked for: this connection can no longer be trusted
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self._complete:  # bytes after a complete answer only spoil the connection
                self._fail(ConnectionDropped(f"the answer is not valid HTTP: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost_at = time.monotonic()
        self._closed = True
        self._registry.discard(self)
        if self._started and self._until_close and not self._complete:
            self.on_message_complete()  # the body was delimited by the end of the connection
        elif not self._complete:
            self._fail(ConnectionDropped("the connection closed before the answer was complete"))

    def _fail(self, error: HttpClientError) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    # --- llhttp callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise ConnectionDropped("a second answer to one request")

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
                self._fail(ConnectionDropped(f"the answer's compressed body is corrupt: {exc}"))
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
