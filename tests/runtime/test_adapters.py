"""Adapters live as long as some catalog uses them; a reload rebuilds only changed providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from calcifer.catalog.model import Catalog, ProviderConfig, Secret
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import FORWARD_ALL, ParameterPolicy, UpstreamCall
from calcifer.runtime.adapters import AdapterPool


class Adapter:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.closed = False

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def parameters(self) -> ParameterPolicy:
        return FORWARD_ALL

    async def complete(self, call: UpstreamCall) -> Completion:
        raise NotImplementedError

    def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True


def catalog(version: str, **providers: ProviderConfig) -> Catalog:
    return Catalog(providers=dict(providers), models={}, version=version)


def config(provider_id: str, base_url: str, key: str = "k") -> ProviderConfig:
    return ProviderConfig(id=provider_id, kind="openai", base_url=base_url, api_key=Secret(key))


def test_unchanged_providers_keep_their_adapter_and_changed_ones_close_when_unused() -> None:
    async def scenario() -> None:
        pool = AdapterPool(Adapter)
        first = catalog("1", a=config("a", "http://a"), b=config("b", "http://b"))
        old = pool.take(first, ["a", "b"])
        second = catalog("2", a=config("a", "http://a"), b=config("b", "http://b", key="rotated"))
        new = pool.take(second, ["a", "b"])
        assert new["a"] is old["a"]  # equal settings, secrets compared by value
        assert new["b"] is not old["b"]
        await pool.give_back(old)  # the first catalog has drained
        assert isinstance(old["b"], Adapter) and old["b"].closed
        assert isinstance(new["a"], Adapter) and not new["a"].closed
        await pool.aclose()
        assert all(isinstance(a, Adapter) and a.closed for a in new.values())

    asyncio.run(scenario())
