"""Provider kinds → adapter classes; the only list of kinds besides the catalog schema."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import cast

from calcifer.catalog.model import Catalog, ProviderConfig
from calcifer.domain.directory import ProviderDirectory, ProviderPolicy
from calcifer.domain.provider import Provider
from calcifer.domain.retry import RetryPolicy
from calcifer.transport.registry import Transports

__all__ = ["ADAPTERS", "adapter_class", "build_adapter", "build_directory", "unavailable_providers"]

# kind → "module:class". Modules are imported only for kinds a worker actually serves:
# each vendor SDK costs tens of megabytes and a good part of a second to import.
ADAPTERS: Mapping[str, str] = MappingProxyType(
    {
        "echo": "calcifer.providers.echo:EchoProvider",
        "openai": "calcifer.providers.openai:OpenAIProvider",
        "anthropic": "calcifer.providers.anthropic:AnthropicProvider",
        "google": "calcifer.providers.google:GoogleProvider",
    }
)


def adapter_class(kind: str) -> Callable[[ProviderConfig, Transports], Provider]:
    module_name, _, class_name = ADAPTERS[kind].partition(":")
    adapter = getattr(importlib.import_module(module_name), class_name)
    return cast(Callable[[ProviderConfig, Transports], Provider], adapter)


def unavailable_providers(catalog: Catalog) -> dict[str, str]:
    """Providers that cannot serve on this gateway, with the reason."""
    return {
        provider_id: reason
        for provider_id, config in catalog.providers.items()
        if (reason := config.missing_credential) is not None
    }


def build_adapter(config: ProviderConfig, transports: Transports) -> Provider:
    """A provider's adapter, sending on the worker's `transports`; call inside the worker's
    event loop (it opens connection pools)."""
    return adapter_class(config.kind)(config, transports)


def build_directory(catalog: Catalog, adapters: Mapping[str, Provider]) -> ProviderDirectory:
    """The catalog's providers: `adapters` for the usable ones, the reason for the others."""
    policies = {pid: _policy(config) for pid, config in catalog.providers.items()}
    return ProviderDirectory(adapters, unavailable_providers(catalog), policies)


def _policy(config: ProviderConfig) -> ProviderPolicy:
    return ProviderPolicy(
        retry=RetryPolicy(attempts=config.max_retries + 1),
        # A stream's silences are bounded even when the catalog sets no stream timeouts.
        first_byte_timeout=config.first_byte_timeout or config.timeout,
        idle_timeout=config.idle_timeout or config.timeout,
    )
