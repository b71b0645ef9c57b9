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

Through an HTTP proxy (`calcifer.transport.http_proxy`): HTTPS origins over a CONNECT
tunnel, HTTP origins with absolute-form requests. Not supported: HTTP/2, redirects
(provider APIs answer a POST where it was sent).

Errors: `HttpClientError` (`ConnectError`, `ConnectionDropped`), from
`calcifer.transport.http_connection`, where each connection's protocol lives.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

import certifi

from calcifer.transport.http_connection import (
    ConnectError,
    Connection,
    ConnectionDropped,
    HttpClientError,
    Origin,
)
from calcifer.transport.http_proxy import Proxy

__all__ = ["ConnectError", "ConnectionDropped", "HttpClient", "HttpClientError", "Response", "tls_context"]

_IDLE_SECONDS = 30.0
"""How long an idle connection is kept: less than providers' own keep-alive limits, so the
pool rarely hands out a connection the server is about to close."""
_DNS_SECONDS = 300.0


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, or against certifi's public CAs as the SDKs do."""
    context = ssl.create_default_context(cafile=ca_bundle or certifi.where())
    context.set_alpn_protocols(["http/1.1"])  # the only protocol this client speaks
    return context


@lru_cache(maxsize=512)
def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    tls = parts.scheme == "https"
    origin = Origin(tls, parts.hostname, parts.port or (443 if tls else 80))
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
        self._idle: dict[Origin, deque[Connection]] = {}
        self._open: set[Connection] = set()
        self._addresses: dict[Origin, tuple[float, list[str]]] = {}
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

    async def _exchange(self, connection: Connection, request: bytes) -> Response:
        try:
            connection.send(request)
            await connection.response_started()
        except BaseException:
            connection.abort()
            raise
        return Response(connection, self)

    def _idle_connection(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable and now - connection.idle_since < _IDLE_SECONDS:
                return connection
            connection.abort()
        return None

    def _keep(self, connection: Connection) -> None:
        idle = self._idle.setdefault(connection.origin, deque())
        connection.idle_since = now = time.monotonic()
        idle.append(connection)
        while idle and (not idle[0].reusable or now - idle[0].idle_since >= _IDLE_SECONDS):
            idle.popleft().abort()

    async def _connect(self, origin: Origin) -> Connection:
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
                        lambda: Connection(origin, self._open),
                        address,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls else None,
                    )
                    return connection
                except OSError as exc:  # refused, unreachable, TLS handshake: try the next address
                    failure = exc
        self._addresses.pop(origin, None)  # the next attempt asks DNS again: the host may have moved
        raise ConnectError(f"could not connect to {origin.host_header}: {failure}") from failure

    async def _connect_through(self, proxy: Proxy, origin: Origin, tls: ssl.SSLContext | None) -> Connection:
        loop = asyncio.get_running_loop()
        connection = Connection(origin, self._open)
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

    async def _resolve(self, origin: Origin) -> list[str]:
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
            self._tls = tls_context()
        return self._tls


class Response:
    """An answer whose status and headers have arrived; its body is read once, by `read` or
    `next_piece`. `release` when done with it; `close` to abandon it (the connection is dropped,
    which is how a provider learns to stop generating)."""

    __slots__ = ("_client", "_connection", "headers", "status")

    def __init__(self, connection: Connection, client: HttpClient) -> None:
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


def _request_bytes(origin: Origin, target: str, body: bytes, headers: Mapping[str, str]) -> bytes:
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
