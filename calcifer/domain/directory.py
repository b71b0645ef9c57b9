"""Provider adapters by catalog id, with the policies the gateway applies to each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from calcifer.domain.provider import Provider
from calcifer.domain.retry import RetryPolicy
from calcifer.errors import ProviderNotConfigured

__all__ = ["ProviderDirectory", "ProviderPolicy"]


@dataclass(frozen=True, slots=True)
class ProviderPolicy:
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=1))
    first_byte_timeout: float | None = None
    """Seconds a stream may take to send its first chunk."""
    idle_timeout: float | None = None
    """Seconds a stream may stay silent between two chunks."""


class ProviderDirectory:
    """Provider adapters by catalog id, their policies, and why the missing ones are missing."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        unavailable: Mapping[str, str],
        policies: Mapping[str, ProviderPolicy] | None = None,
    ) -> None:
        self._providers = dict(providers)
        self._unavailable = dict(unavailable)
        self._policies = dict(policies or {})

    def policy(self, provider_id: str) -> ProviderPolicy:
        return self._policies.get(provider_id) or ProviderPolicy()

    def get(self, provider_id: str) -> Provider:
        provider = self._providers.get(provider_id)
        if provider is None:
            reason = self._unavailable.get(provider_id, "it is not declared in the catalog")
            raise ProviderNotConfigured(f"Provider '{provider_id}' is not available: {reason}")
        return provider

    def all(self) -> list[Provider]:
        return list(self._providers.values())
