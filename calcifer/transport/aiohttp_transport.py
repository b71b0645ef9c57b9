"""The `Transport` on aiohttp's client: a well-kept library, for providers where the native
client's speed matters less than a second opinion (`transport: aiohttp` in the catalog).

The limits are the native client's (`calcifer.transport.base.Limits`), kept as follows:
- connections per origin: a first-come-first-served gate of `max_connections` per origin,
  held from the request until its answer is released or closed (so a request waiting for a
  connection is timed by us and fails as `PoolTimeout`), and aiohttp's own
  `limit_per_host` set to the same number;
- connect timeout per address: `sock_connect` (aiohttp tries the addresses in turn, IPv6
  and IPv4 interleaved, "happy eyeballs");
- DNS: aiohttp's cache with `dns_max_age` as its TTL, cleared for a host after a failed connect;
- idle connections: aiohttp sweeps its pool every `keepalive_timeout` and closes what has
  been idle longer than that, so a connection may stay up to twice the setting; it is set to
  half of `idle_seconds`, and no connection outlives `idle_seconds`;
- response and event caps: counted here, as the native client does.

aiohttp never re-sends a POST by itself. It has no check of a kept connection before
writing on it beyond "not yet closed", so a server's close that crosses the request
surfaces as `ConnectionDropped` (the native client looks at the socket first).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from calcifer.transport.base import (
    DEFAULT_LIMITS,
    BadHttp,
    ConnectFailed,
    ConnectionDropped,
    Limits,
    PoolTimeout,
    Resolver,
    ResponseTooLarge,
    SystemResolver,
    TransportError,
)
from calcifer.transport.http_client import tls_context
from calcifer.transport.http_proxy import Proxy

__all__ = ["AiohttpResponse", "AiohttpTransport"]

_FINISH_SECONDS = 5.0
"""How long a released answer may take to finish arriving before its connection is dropped."""

# aiohttp's exceptions → ours; the first class that matches wins (subclasses come first).
_ERRORS: tuple[tuple[type[BaseException], type[TransportError]], ...] = (
    (aiohttp.ClientHttpProxyError, ConnectFailed),  # a ClientResponseError: the proxy said no
    (aiohttp.ClientConnectorError, ConnectFailed),  # refused, DNS, TLS, proxy unreachable
    (aiohttp.ConnectionTimeoutError, ConnectFailed),  # sock_connect: no address answered
    (aiohttp.InvalidURL, ConnectFailed),
    (aiohttp.ServerDisconnectedError, ConnectionDropped),
    (aiohttp.ClientPayloadError, ConnectionDropped),  # the body was cut short
    (aiohttp.ClientResponseError, BadHttp),  # the status line or headers are not HTTP
    (aiohttp.ClientError, ConnectionDropped),
)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        ours = next(mine for theirs, mine in _ERRORS if isinstance(exc, theirs))
        raise ours(str(exc) or type(exc).__name__) from exc


class _Gate:
    """At most `limit` requests in flight to one origin; the others wait, oldest first."""

    __slots__ = ("_name", "_semaphore")

    def __init__(self, name: str, limit: int) -> None:
        self._name = name
        self._semaphore = asyncio.Semaphore(limit)

    async def enter(self, max_wait: float) -> None:
        semaphore = self._semaphore
        if not semaphore.locked():
            await semaphore.acquire()  # free: no timer armed
            return
        try:
            async with asyncio.timeout(max_wait):
                await semaphore.acquire()
        except TimeoutError as exc:
            raise PoolTimeout(f"all connections to {self._name} stayed busy for {max_wait:g} s") from exc

    def leave(self) -> None:
        self._semaphore.release()


class _ResolverAdapter(AbstractResolver):
    """Our `Resolver` as aiohttp asks for one."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in await self._resolver.resolve(host, port)
        ]

    async def close(self) -> None:
        pass


class AiohttpTransport:
    """A `Transport` on one aiohttp session (made at first use, inside the event loop)."""

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        *,
        tls: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._limits = limits
        self._tls = tls
        self._proxy = proxy
        self._resolver = resolver or SystemResolver()
        self._session: aiohttp.ClientSession | None = None
        self._connector: aiohttp.TCPConnector | None = None
        self._gates: dict[str, _Gate] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def limits(self) -> Limits:
        return self._limits

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, pool_timeout: float
    ) -> AiohttpResponse:
        _check_headers(headers)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        gate = self._gates.get(origin) or self._gates.setdefault(
            origin, _Gate(parts.netloc, self._limits.max_connections)
        )
        headers = {"Accept-Encoding": "identity", **headers}
        proxy = self._proxy
        if proxy is not None and parts.scheme == "http":  # aiohttp sends proxy_headers on CONNECT only
            headers.update(proxy.headers())
        await gate.enter(pool_timeout)
        if self._closed:
            gate.leave()
            raise ConnectFailed("the transport is closed (the worker is stopping)")
        try:
            with _translated():
                answer = await self._open().post(
                    url,
                    data=body,
                    headers=headers,
                    proxy=self._proxy_url(),
                    proxy_headers=proxy.headers() if proxy is not None else None,
                )
        except BaseException as exc:
            gate.leave()
            if isinstance(exc, ConnectFailed) and self._connector is not None and parts.hostname:
                self._connector.clear_dns_cache(parts.hostname, parts.port)  # it may have moved
            raise
        return AiohttpResponse(answer, gate, self)

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._finishing):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def finish_later(self, response: AiohttpResponse) -> None:
        task = asyncio.get_running_loop().create_task(response.finish())
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        limits = self._limits
        self._connector = aiohttp.TCPConnector(
            limit=0,  # no cap across origins; per origin, below
            limit_per_host=limits.max_connections,
            ttl_dns_cache=max(1, round(limits.dns_max_age)),
            keepalive_timeout=limits.idle_seconds / 2,  # see the module docstring
            timeout_ceil_threshold=3600,  # aiohttp would round our idle timers up to whole seconds
            ssl=self._tls or tls_context(),
            resolver=_ResolverAdapter(self._resolver),
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=limits.connect_timeout),
            trust_env=False,  # the catalog's `proxy` setting, not the environment, decides
        )
        return self._session

    def _proxy_url(self) -> URL | None:
        proxy = self._proxy
        if proxy is None:
            return None
        return URL.build(scheme="http", host=proxy.host, port=proxy.port)


class AiohttpResponse:
    """aiohttp's answer as a `calcifer.transport.base.Response`."""

    __slots__ = ("_answer", "_done", "_gate", "_transport", "headers", "status")

    def __init__(self, answer: aiohttp.ClientResponse, gate: _Gate, transport: AiohttpTransport) -> None:
        self._answer = answer
        self._gate = gate
        self._transport = transport
        self._done = False
        self.status = answer.status
        headers: dict[str, str] = {}
        for name, value in answer.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.headers: Mapping[str, str] = headers

    async def read(self) -> bytes:
        limit = self._transport.limits.max_response_bytes
        pieces = []
        size = 0
        while (piece := await self.next_piece()) is not None:
            size += len(piece)
            if size > limit:  # counted decompressed, as the native client does
                self.close()
                raise ResponseTooLarge(f"the answer's body is over {limit} bytes")
            pieces.append(piece)
        return b"".join(pieces)

    async def next_piece(self) -> bytes | None:
        with _translated():
            piece = await self._answer.content.readany()
        return piece or None

    def release(self) -> None:
        if self._done:
            return
        if self._answer.content.is_eof():
            self._answer.release()
            self._leave()
        else:  # the rest (a stream's last chunk, often) is read so the connection can be kept
            self._transport.finish_later(self)

    def close(self) -> None:
        if not self._done:
            self._answer.close()
            self._leave()

    async def finish(self) -> None:
        try:
            async with asyncio.timeout(_FINISH_SECONDS):
                while await self._answer.content.readany():
                    pass
        except (TimeoutError, aiohttp.ClientError):
            self.close()
            return
        except asyncio.CancelledError:
            self.close()
            raise
        self._answer.release()
        self._leave()

    def _leave(self) -> None:
        self._done = True
        self._gate.leave()


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ConnectFailed(f"header {name!r} holds a line break")
