"""Vendor-neutral outbound HTTP: the connections provider adapters send their calls on.

`Transport` (the protocol, its limits and errors: `base`), its two implementations
(`http_client.HttpClient`, native; `aiohttp_transport.AiohttpTransport`), and `Transports`,
the worker's registry of them (`registry`).
"""

from calcifer.transport.base import (
    BadHttp,
    ConnectFailed,
    ConnectionDropped,
    Limits,
    PoolTimeout,
    Resolver,
    Response,
    ResponseTooLarge,
    Transport,
    TransportError,
)
from calcifer.transport.registry import Transports, TransportSettings

__all__ = [
    "BadHttp",
    "ConnectFailed",
    "ConnectionDropped",
    "Limits",
    "PoolTimeout",
    "Resolver",
    "Response",
    "ResponseTooLarge",
    "Transport",
    "TransportError",
    "TransportSettings",
    "Transports",
]
