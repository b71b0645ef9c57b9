"""A small HTTP/1.1 client for calls to providers: a capped keep-alive pool, TLS, bodies as they arrive.

Why not aiohttp's client: a gateway sends a body it already holds and forwards what comes
back. aiohttp builds request and response objects, a payload from a registry, timer handles
and a stream reader for each call; on a streamed answer that is 0.13 ms of CPU and 0.08 ms
before the first byte more than this client (docs/performance.md), on every request. The
HTTP parsing is httptools (llhttp, the parser Sanic and uvicorn use). (aiohttp is there too,
as the other `Transport`: `calcifer.transport.aiohttp_transport`.)

Supported: HTTP and HTTPS (system CA bundle as certifi ships it, like the vendor SDKs),
`Content-Length`, chunked and read-until-close bodies, gzip/deflate answers, keep-alive,
back-pressure on bodies nobody reads; the limits of `calcifer.transport.base.Limits`.

A request is written once and never again (a POST is not safe to send twice, RFC 9112
§9.3.1: the provider may have started a billed generation). A kept connection is checked
before the request is written on it (`Connection.sound_for_reuse`); once written, a failure
is the caller's `ConnectionDropped`, for the gateway to retry or report by its one policy.

Through an HTTP proxy (`calcifer.transport.http_proxy`): HTTPS origins over a CONNECT
tunnel, HTTP origins with absolute-form requests. Not supported: HTTP/2, redirects
(provider APIs answer a POST where it was sent).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

import certifi

from calcifer.transport.base import (
    DEFAULT_LIMITS,
    ConnectFailed,
    Limits,
    Resolver,
    ResponseTooLarge,
    SystemResolver,
)
from calcifer.transport.http_connection import Connection, Origin
from calcifer.transport.http_pool import OriginPool
from calcifer.transport.http_proxy import Proxy

__all__ = ["HttpClient", "NativeResponse", "tls_context"]


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, or against certifi's public CAs as the SDKs do."""
    context = ssl.create_default_context(cafile=ca_bundle or certifi.where())
    context.set_alpn_protocols(["http/1.1"])  # the only protocol this client speaks
    return context


@lru_cache(maxsize=512)
def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectFailed(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    tls = parts.scheme == "https"
    origin = Origin(tls, parts.hostname, parts.port or (443 if tls else 80))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return origin, target


class HttpClient:
    """The native `Transport`: one capped pool of connections per origin."""

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        *,
        tls: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        """`tls`: how to check servers' certificates; by default against certifi's CA bundle.
        `proxy`: where every connection goes first. `resolver`: host names to addresses."""
        self._limits = limits
        self._proxy = proxy
        self._tls = tls
        self._resolver = resolver or SystemResolver()
        self._pools: dict[Origin, OriginPool] = {}
        self._closed = False
        self._addresses: dict[Origin, tuple[float, list[str]]] = {}

    @property
    def limits(self) -> Limits:
        return self._limits

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, pool_timeout: float
    ) -> NativeResponse:
        """Send a POST and wait for the answer's status and headers."""
        origin, target = _split(url)
        if self._proxy is not None and not origin.tls:  # a plain-HTTP proxy wants the whole URL
            target, headers = url, {**headers, **self._proxy.headers()}
        request = _request_bytes(origin, target, body, headers)
        if self._closed:
            raise ConnectFailed("the transport is closed (the worker is stopping)")
        pool = self._pools.get(origin) or self._new_pool(origin)
        connection = await pool.acquire(pool_timeout)
        if connection is None:
            connection = Connection(origin, pool)
            try:
                await self._connect(connection)
            except BaseException:
                if connection.registered:
                    connection.abort()  # the pool hears of it when the connection is lost
                else:
                    pool.failed()
                raise
        try:
            connection.send(request)
            await connection.response_started()
        except BaseException:
            connection.abort()
            raise
        return NativeResponse(connection, pool, self._limits.max_response_bytes)

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _new_pool(self, origin: Origin) -> OriginPool:
        limits = self._limits
        pool = OriginPool(origin.host_header, limits.max_connections, limits.idle_seconds)
        self._pools[origin] = pool
        return pool

    async def _connect(self, connection: Connection) -> None:
        origin = connection.origin
        tls = self._tls_context() if origin.tls else None
        if self._proxy is not None:
            async with asyncio.timeout(self._limits.connect_timeout):
                return await self._connect_through(self._proxy, connection, tls)
        loop = asyncio.get_running_loop()
        failures: list[str] = []
        for address in await self._resolve(origin):
            try:
                # Each address gets the whole connect timeout: one that does not answer
                # (an IPv6 route that goes nowhere) must not eat the time of the next.
                async with asyncio.timeout(self._limits.connect_timeout):
                    await loop.create_connection(
                        lambda: connection,
                        address,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls else None,
                    )
                return
            except TimeoutError:
                failures.append(f"{address}: no answer in {self._limits.connect_timeout:g} s")
            except OSError as exc:  # refused, unreachable, TLS handshake: try the next address
                failures.append(f"{address}: {exc}")
        self._addresses.pop(origin, None)  # the next attempt asks DNS again: the host may have moved
        raise ConnectFailed(f"could not connect to {origin.host_header}: {'; '.join(failures)}")

    async def _connect_through(
        self, proxy: Proxy, connection: Connection, tls: ssl.SSLContext | None
    ) -> None:
        loop = asyncio.get_running_loop()
        origin = connection.origin
        try:
            if tls is None:
                await loop.create_connection(lambda: connection, proxy.host, proxy.port)
                return
            tunnel = await proxy.tunnel(origin.host, origin.port)
            try:
                secured = await loop.start_tls(tunnel, connection, tls, server_hostname=origin.host)
            except BaseException:
                tunnel.abort()
                raise
        except OSError as exc:  # the proxy refused or is down, or the TLS handshake failed
            raise ConnectFailed(
                f"could not connect to {origin.host_header} through the proxy: {exc}"
            ) from exc
        assert secured is not None
        connection.connection_made(secured)  # start_tls hands the protocol a transport, silently

    async def _resolve(self, origin: Origin) -> list[str]:
        """The origin's addresses, cached for `dns_max_age`: a burst of new connections should
        not each ask DNS, and a host that moved is followed within that time."""
        loop = asyncio.get_running_loop()
        cached = self._addresses.get(origin)
        if cached is not None and loop.time() - cached[0] < self._limits.dns_max_age:
            return cached[1]
        addresses = await self._resolver.resolve(origin.host, origin.port)
        if not addresses:
            raise ConnectFailed(f"could not resolve {origin.host}: no address")
        self._addresses[origin] = (loop.time(), addresses)
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context()
        return self._tls


class NativeResponse:
    """The native client's `calcifer.transport.base.Response`."""

    __slots__ = ("_connection", "_limit", "_pool", "headers", "status")

    def __init__(self, connection: Connection, pool: OriginPool, limit: int) -> None:
        self._connection = connection
        self._pool = pool
        self._limit = limit
        self.status = connection.status
        self.headers: Mapping[str, str] = connection.headers
        """Lower-case names; repeated headers joined with ", "."""

    async def read(self) -> bytes:
        pieces = []
        size = 0
        while (piece := await self.next_piece()) is not None:
            size += len(piece)
            if size > self._limit:  # counted decompressed: a small gzip may unpack to gigabytes
                self.close()
                raise ResponseTooLarge(f"the answer's body is over {self._limit} bytes")
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
            self._pool.keep(connection)
        elif connection.may_finish:
            connection.keep_when_complete(self._pool.keep)
        else:
            connection.abort()

    def close(self) -> None:
        self._connection.abort()


def _request_bytes(origin: Origin, target: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {origin.host_header}", f"Content-Length: {len(body)}"]
    encoding_set = False
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ConnectFailed(f"header {name!r} holds a line break")
        encoding_set = encoding_set or name.lower() == "accept-encoding"
        lines.append(f"{name}: {value}")
    if not encoding_set:
        lines.append("Accept-Encoding: identity")  # compression costs more CPU than it saves here
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ConnectFailed("a header holds characters HTTP cannot carry") from exc
    return head + body
