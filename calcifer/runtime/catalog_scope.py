"""Everything one catalog needs, built once per catalog: router, balancer, adapters, listing.

A request uses the catalog scope it started on to its end, even when a reload swaps in a
new one meanwhile; a replaced scope hands its adapters back once its last request is done.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

from calcifer.catalog import Catalog
from calcifer.domain.balancing import Balancer
from calcifer.domain.caching import ResponseCaching
from calcifer.domain.gateway import Gateway
from calcifer.domain.lifecycle import Lifecycle
from calcifer.domain.models import Deployment
from calcifer.domain.observer import CallObserver
from calcifer.domain.redaction import RedactingObserver, Redactor
from calcifer.domain.routing import ModelRouter
from calcifer.http.api.models import ModelListing
from calcifer.providers.registry import build_directory, unavailable_providers
from calcifer.runtime.process_scope import ProcessScope
from calcifer.telemetry.attempts import AttemptCounter
from calcifer.telemetry.tracing import SpanObserver, records_spans

__all__ = ["CatalogScope"]


class CatalogScope:
    def __init__(self, process: ProcessScope, catalog: Catalog) -> None:
        self.catalog = catalog
        self.catalog_version = catalog.version
        self._process = process
        lifecycle = Lifecycle(process.settings.gateway.route_retired_to_replacement)
        router = ModelRouter(catalog.models.values(), lifecycle)
        balancer = Balancer(
            catalog.models.values(),
            breaker_settings=lambda provider_id: catalog.providers[provider_id].breaker,
            health=process.health,
            identity=lambda deployment: deployment_identity(catalog, deployment),
        )
        kinds = self.provider_kinds = {pid: config.kind for pid, config in catalog.providers.items()}
        observer: CallObserver = RedactingObserver(
            SpanObserver(process.tracer, kinds, records_spans(process.settings.telemetry)),
            Redactor(known_secrets(catalog, process.settings.master_key)),
        )
        if process.metrics is not None:
            observer = AttemptCounter(observer, process.metrics)
        self.listing = ModelListing(catalog.models.values())
        unavailable = unavailable_providers(catalog)
        usable = [provider_id for provider_id in catalog.providers if provider_id not in unavailable]
        # Last, so that nothing can fail once adapters are counted as used by this catalog.
        self._adapters = process.adapters.take(catalog, usable)
        self.gateway = Gateway(
            router,
            build_directory(catalog, self._adapters),
            observer,
            balancer,
            process.settings.gateway.request_deadline_seconds,
        )
        self.caching = response_caching(process, catalog)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def identities(self) -> set[str]:
        return {
            deployment_identity(self.catalog, deployment)
            for model in self.catalog.models.values()
            for deployment in model.deployments
        }

    def enter(self) -> None:
        """A request starts on this catalog (it keeps it to its end, even across a reload)."""
        self._in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def drained(self) -> None:
        await self._idle.wait()

    async def close(self) -> None:
        """Hand the adapters back (once); those no newer catalog uses are closed."""
        adapters, self._adapters = self._adapters, {}
        await self._process.adapters.give_back(adapters)


def response_caching(process: ProcessScope, catalog: Catalog) -> ResponseCaching:
    """The process's cache backend with this catalog's policies: a model's `cache:` section
    over the gateway's."""
    default, settings = process.cache_policy, process.settings.cache
    models = catalog.models.items()
    per_model = {name: model.cache.applied_to(default) for name, model in models if model.cache is not None}
    return ResponseCaching(
        process.response_cache,
        default,
        per_model,
        settings.hit_cost_fraction,
        settings.replay_pacing,
        settings.hits_count_as_spend,
    )


def deployment_identity(catalog: Catalog, deployment: Deployment) -> str:
    """Who a deployment's health belongs to: the provider's endpoint and the upstream model.
    A provider pointed somewhere else starts with a fresh breaker."""
    config = catalog.providers[deployment.provider_id]
    endpoint = f"{config.kind}|{config.base_url or ''}|{config.api_version or ''}"
    return f"{deployment.key}@{endpoint}"


def known_secrets(catalog: Catalog, master_key: str | None) -> Iterator[str]:
    """Every credential the catalog resolved, and the master key: none may leave in error text."""
    if master_key:
        yield master_key
    for config in catalog.providers.values():
        if config.api_key is not None:
            yield config.api_key.reveal()
        proxy = config.proxy
        if proxy is not None and proxy.password is not None and proxy.password.reveal():
            password = proxy.password.reveal()
            yield password
            # what a proxy that echoes `Proxy-Authorization: Basic ...` would show
            yield base64.b64encode(f"{proxy.user or ''}:{password}".encode()).decode()
