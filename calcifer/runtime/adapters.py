"""Provider adapters for the life of the worker: a reload rebuilds only what changed.

An adapter holds warm upstream connections. A catalog reload that leaves a provider's
settings as they were hands the same adapter to the new catalog; one whose settings changed
(endpoint, credentials, timeouts...) gets a new adapter, and the old one is closed once the
last catalog using it has finished its requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from calcifer.catalog.model import Catalog, ProviderConfig
from calcifer.domain.provider import Provider

__all__ = ["AdapterPool"]


class AdapterPool:
    def __init__(self, build: Callable[[ProviderConfig], Provider]) -> None:
        self._build = build
        self._current: dict[str, tuple[ProviderConfig, Provider]] = {}
        self._users: dict[int, int] = {}
        """How many live catalogs use each adapter, by the adapter's id()."""
        self._all: dict[int, Provider] = {}

    def take(self, catalog: Catalog, usable: Iterable[str]) -> dict[str, Provider]:
        """The adapters a catalog serves with, each counted as used until `give_back`."""
        built = self._build_changed(catalog, usable)
        for provider_id, held in built.items():
            self._current[provider_id] = held
            self._all[id(held[1])] = held[1]
        adapters = {provider_id: self._current[provider_id][1] for provider_id in usable}
        for provider_id in set(self._current) - set(adapters):
            del self._current[provider_id]  # gone or unusable now; closed when no catalog uses it
        for adapter in adapters.values():
            self._users[id(adapter)] = self._users.get(id(adapter), 0) + 1
        return adapters

    def _build_changed(
        self, catalog: Catalog, usable: Iterable[str]
    ) -> dict[str, tuple[ProviderConfig, Provider]]:
        """New adapters for the providers that are new or whose settings changed; all or none
        (an adapter that fails to build leaves the pool as it was)."""
        built: dict[str, tuple[ProviderConfig, Provider]] = {}
        try:
            for provider_id in usable:
                config = catalog.providers[provider_id]
                held = self._current.get(provider_id)
                if held is None or held[0] != config:
                    built[provider_id] = (config, self._build(config))
        except BaseException:
            for _, adapter in built.values():
                asyncio.get_running_loop().create_task(adapter.aclose())
            raise
        return built

    async def give_back(self, adapters: Mapping[str, Provider]) -> None:
        """A catalog is done: close the adapters nobody uses any more."""
        current = {id(adapter) for _, adapter in self._current.values()}
        for adapter in adapters.values():
            key = id(adapter)
            self._users[key] -= 1
            if self._users[key] == 0 and key not in current:
                del self._users[key], self._all[key]
                await adapter.aclose()

    async def aclose(self) -> None:
        adapters, self._all, self._current, self._users = list(self._all.values()), {}, {}, {}
        for adapter in adapters:
            await adapter.aclose()
