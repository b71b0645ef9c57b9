"""The process's transports: one per distinct setting, shared by the providers that agree on it."""

from __future__ import annotations

import asyncio

from calcifer.catalog.model import ProviderConfig, ProxyAddress
from calcifer.transport.aiohttp_transport import AiohttpTransport
from calcifer.transport.http_client import HttpClient
from calcifer.transport.registry import Transports, TransportSettings


def provider(name: str, **settings: object) -> ProviderConfig:
    return ProviderConfig(id=name, kind="openai", **settings)  # type: ignore[arg-type]


def test_providers_with_the_same_transport_settings_share_one_transport() -> None:
    async def scenario() -> None:
        transports = Transports()
        proxy = "http://ops:pw@proxy.internal:3128"
        a = transports.for_provider(provider("a", proxy=ProxyAddress.parse(proxy), timeout=30))
        b = transports.for_provider(provider("b", proxy=ProxyAddress.parse(proxy), timeout=45))
        assert a is b  # same proxy (parsed twice), same limits; timeouts over 10 s connect in 10 s
        assert isinstance(a, HttpClient)
        assert transports.for_provider(provider("c", max_connections=5)) is not a
        assert transports.for_provider(provider("d", timeout=2)) is not a  # connects within 2 s
        library = transports.for_provider(provider("e", transport="aiohttp"))
        assert isinstance(library, AiohttpTransport) and library.limits.max_connections == 1000
        await transports.aclose()

    asyncio.run(scenario())


def test_a_proxy_password_does_not_show_in_the_transport_settings() -> None:
    settings = TransportSettings.of(provider("a", proxy=ProxyAddress.parse("http://ops:s3cret@proxy:3128")))
    assert "s3cret" not in repr(settings) and "czNjcmV0" not in repr(settings)
