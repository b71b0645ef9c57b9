"""Provider kinds → adapter classes; the only list of kinds besides the catalog schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from loguru import logger

from calcifer.catalog.model import Catalog, ProviderConfig
from calcifer.domain.gateway import ProviderDirectory
from calcifer.domain.provider import Provider
from calcifer.providers.anthropic import AnthropicProvider
from calcifer.providers.echo import EchoProvider
from calcifer.providers.google import GoogleProvider
from calcifer.providers.openai import OpenAIProvider

__all__ = ["ADAPTERS", "build_directory", "unavailable_providers"]

ADAPTERS: Mapping[str, Callable[[ProviderConfig], Provider]] = MappingProxyType(
    {
        "echo": EchoProvider,
        "openai": OpenAIProvider,
        "anthropic": AnthropicProvider,
        "google": GoogleProvider,
    }
)


def unavailable_providers(catalog: Catalog) -> dict[str, str]:
    """Providers that cannot serve on this gateway, with the reason."""
    return {
        provider_id: reason
        for provider_id, config in catalog.providers.items()
        if (reason := config.missing_credential) is not None
    }


def build_directory(catalog: Catalog) -> ProviderDirectory:
    """One adapter per usable provider; call inside the worker's event loop."""
    unavailable = unavailable_providers(catalog)
    adapters = {
        provider_id: ADAPTERS[config.kind](config)
        for provider_id, config in catalog.providers.items()
        if provider_id not in unavailable
    }
    logger.debug("provider adapters ready: {}", ", ".join(sorted(adapters)) or "none")
    return ProviderDirectory(adapters, unavailable)
