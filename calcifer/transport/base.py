"""What every outbound HTTP implementation offers the provider adapters: the `Transport` protocol,
its limits, its resolver seam and its own small exception tree.

    TransportError
    ├── ConnectFailed         no connection: refused, unreachable, DNS, TLS, proxy; nothing was sent
    ├── ConnectionDropped     the connection broke after the request was written (never re-sent)
    ├── PoolTimeout           no connection to the origin became free in time (the cap was reached)
    ├── ResponseTooLarge      the body, or one server-sent event, is over its configured cap
    └── BadHttp               the answer is not valid HTTP (or its compressed body is corrupt)

These are translated into Calcifer's error tree in exactly one place,
`calcifer.providers.forwarding`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_LIMITS",
    "BadHttp",
    "ConnectFailed",
    "ConnectionDropped",
    "Limits",
    "PoolTimeout",
    "Resolver",
    "Response",
    "ResponseTooLarge",
    "SystemResolver",
    "Transport",
    "TransportError",
]

MIB = 1024 * 1024


class TransportError(Exception):
    """A request that got no complete, acceptable HTTP answer."""


class ConnectFailed(TransportError):
    """No connection could be made (or the request could not be formed); nothing was sent."""


class ConnectionDropped(TransportError):
    """The connection failed after the request was written: the server may have acted on it."""


class PoolTimeout(TransportError):
    """Every connection to the origin stayed busy for as long as the request could wait."""


class ResponseTooLarge(TransportError):
    """The answer's body, or one of its events, is larger than the configured cap."""


class BadHttp(TransportError):
    """The answer breaks HTTP: not a status line, a bad chunk, a corrupt compressed body."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one transport allows; the same for every implementation."""

    max_connections: int = 1000
    """Connections open (or opening) to one origin at once; further requests queue, first come
    first served."""
    max_response_bytes: int = 64 * MIB
    """Body of an answer read whole (`Response.read`), after decompression."""
    max_event_bytes: int = 8 * MIB
    """One server-sent event of a stream (see `calcifer.transport.sse`)."""
    connect_timeout: float = 10.0
    """Seconds for each resolved address (TCP, TLS, proxy tunnel); then the next one is tried."""
    idle_seconds: float = 30.0
    """An unused kept-alive connection is closed no later than this: less than providers' own
    keep-alive limits, so the pool rarely holds a connection the server is about to close."""
    dns_max_age: float = 60.0
    """Seconds a host's resolved addresses are used before DNS is asked again."""


DEFAULT_LIMITS = Limits()


class Resolver(Protocol):
    """Host name → IP addresses, in the order they should be tried."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), in its preference order (RFC 6724:
    usually IPv6 first, then IPv4)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectFailed(f"could not resolve {host}: {exc}") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Response(Protocol):
    """An answer whose status and headers have arrived. Its body is read once, by `read` or by
    `next_piece`; then `release` (the connection may serve another request) or `close` (the
    connection is dropped, which is how a provider learns to stop generating)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Lower-case names; repeated headers joined with ", "."""
        ...

    async def read(self) -> bytes:
        """The whole body, decompressed; `ResponseTooLarge` past `Limits.max_response_bytes`."""
        ...

    def next_piece(self) -> Awaitable[bytes | None]:
        """The body as it arrives: everything received since the last call; None at its end."""
        ...

    def release(self) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends a POST to an origin over a capped pool of kept-alive connections.

    Guarantees of every implementation (tests/transport/test_conformance.py):
    at most `limits.max_connections` connections per origin, waiting requests served in order;
    a request is written at most once (no re-send on a dropped connection); a kept connection
    the server closed while idle is not used; idle connections closed within `idle_seconds`.
    """

    @property
    def limits(self) -> Limits: ...

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, pool_timeout: float
    ) -> Response:
        """Send the request; return once the answer's status and headers have arrived.
        `pool_timeout`: seconds the request may wait for a free connection (`PoolTimeout`)."""
        ...

    async def aclose(self) -> None:
        """Close every connection; the transport is not used afterwards."""
        ...
