"""The process's transports: one per distinct transport setting, shared by every adapter that
asks with the same settings, kept across catalog reloads (so are their warm connections)."""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from calcifer.catalog.model import ProviderConfig
from calcifer.transport.base import Limits, Resolver, Transport
from calcifer.transport.http_client import HttpClient, tls_context
from calcifer.transport.http_proxy import Proxy

__all__ = ["TransportSettings", "Transports"]

_CONNECT_SECONDS = 10.0
"""Connect timeout per address, unless the provider's whole `timeout` is shorter."""


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """Everything that makes two transports different; equal settings share one transport."""

    kind: str
    ca_bundle: str | None
    proxy: Proxy | None
    limits: Limits

    @classmethod
    def of(cls, config: ProviderConfig) -> TransportSettings:
        limits = Limits(
            max_connections=config.max_connections,
            max_response_bytes=config.max_response_bytes,
            max_event_bytes=config.max_event_bytes,
            connect_timeout=min(_CONNECT_SECONDS, config.timeout),
        )
        return cls(
            kind=config.transport,
            ca_bundle=str(config.ca_bundle) if config.ca_bundle else None,
            proxy=Proxy.of(config.proxy) if config.proxy else None,
            limits=limits,
        )


class Transports:
    """Built once per worker, closed when it stops (`aclose`). Transports are made at first
    use, inside the worker's event loop.

    A transport no provider uses any more (its settings changed in a reload) stays until the
    worker stops; its idle connections close on their idle timers, so it holds no socket for
    long, and the settings a catalog can name are few."""

    def __init__(self, *, resolver: Resolver | None = None) -> None:
        """`resolver`: how host names are resolved (the system's by default)."""
        self._resolver = resolver
        self._transports: dict[TransportSettings, Transport] = {}

    def for_provider(self, config: ProviderConfig) -> Transport:
        settings = TransportSettings.of(config)
        transport = self._transports.get(settings)
        if transport is None:
            transport = self._transports[settings] = self._build(settings)
            logger.debug("transport {} for provider '{}'", settings.kind, config.id)
        return transport

    async def aclose(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()

    def _build(self, settings: TransportSettings) -> Transport:
        tls = tls_context(settings.ca_bundle) if settings.ca_bundle else None
        if settings.kind == "aiohttp":
            # imported only when a provider asks for it: aiohttp costs megabytes to load
            from calcifer.transport.aiohttp_transport import AiohttpTransport

            return AiohttpTransport(settings.limits, tls=tls, proxy=settings.proxy, resolver=self._resolver)
        return HttpClient(settings.limits, tls=tls, proxy=settings.proxy, resolver=self._resolver)
