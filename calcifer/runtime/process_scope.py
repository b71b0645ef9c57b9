"""What lives as long as a worker: built when it starts, closed when it stops.

Deployment health (breakers and latency, shared by the workers of a machine when there
are several), provider adapters and their connection pools, tracing, and the catalog
version the workers watch to reload together. The next features (key store, shared
counters, ledger writer, metrics) are built here too, once, and never per catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from loguru import logger
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.breaker import BreakerState
from calcifer.domain.health import DeploymentHealth
from calcifer.domain.models import Deployment
from calcifer.domain.ports import ResponseCache
from calcifer.domain.provider import Provider
from calcifer.domain.response_cache import CachePolicy, CacheScope
from calcifer.providers.registry import build_adapter
from calcifer.runtime.adapters import AdapterPool
from calcifer.settings import CacheSettings, Settings
from calcifer.state.cache_local import LocalResponseCache
from calcifer.state.cache_redis import RedisResponseCache
from calcifer.state.machine import MachineState
from calcifer.telemetry.genai_metrics import build_meter_provider
from calcifer.telemetry.metrics import GatewayMetrics
from calcifer.transport.registry import Transports

__all__ = ["CatalogSignal", "LocalCatalogSignal", "ProcessScope"]


class CatalogSignal(Protocol):
    """The catalog version the workers should serve, published by the one that reloaded."""

    def generation(self) -> int: ...

    def version(self) -> str: ...

    def publish(self, version: str) -> int: ...


class LocalCatalogSignal:
    """One worker alone: nobody else to tell."""

    def __init__(self) -> None:
        self._generation = 0
        self._version = ""

    def generation(self) -> int:
        return self._generation

    def version(self) -> str:
        return self._version

    def publish(self, version: str) -> int:
        self._generation += 1
        self._version = version
        return self._generation


@dataclass(slots=True)
class ProcessScope:
    settings: Settings
    tracer_provider: TracerProvider
    tracer: Tracer
    health: DeploymentHealth
    transports: Transports
    """Upstream connection pools, one per distinct transport setting; they outlive catalogs."""
    adapters: AdapterPool
    catalog_signal: CatalogSignal
    metrics: GatewayMetrics | None
    """The worker's Prometheus families (`metrics.enabled`), shared by every catalog."""
    meter_provider: MeterProvider | None
    """OpenTelemetry metrics, when an exporter is configured (`OTEL_METRICS_EXPORTER`)."""
    response_cache: ResponseCache
    """The worker's in-process cache, or Redis shared by every replica (`CALCIFER_REDIS_URL`)."""

    @classmethod
    def build(
        cls,
        settings: Settings,
        tracer_provider: TracerProvider,
        machine: MachineState | None,
        build_adapter: Callable[[ProviderConfig, Transports], Provider] = build_adapter,
    ) -> ProcessScope:
        """Call inside the worker's event loop (adapters bind their pools to it)."""
        breakers = machine.breakers() if machine is not None else None
        transports = Transports()
        return cls(
            settings=settings,
            tracer_provider=tracer_provider,
            tracer=tracer_provider.get_tracer("calcifer"),
            health=DeploymentHealth(breakers, on_breaker_change=_log_breaker),
            transports=transports,
            adapters=AdapterPool(lambda config: build_adapter(config, transports)),
            catalog_signal=machine.catalog_signal() if machine is not None else LocalCatalogSignal(),
            metrics=GatewayMetrics(settings.metrics.per_key) if settings.metrics.enabled else None,
            meter_provider=build_meter_provider(settings.telemetry),
            response_cache=_response_cache(settings.cache, settings.access.redis_url),
        )

    @property
    def cache_policy(self) -> CachePolicy:
        """The gateway's `cache:` section, for the models whose catalog entry says nothing."""
        cache = self.settings.cache
        return CachePolicy(
            cache.enabled, cache.ttl_seconds, CacheScope(cache.scope), cache.sampled, cache.multiple_choices
        )

    async def aclose(self) -> None:
        await self.adapters.aclose()
        await self.response_cache.aclose()
        await self.transports.aclose()
        self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()  # the last readings exported


def _response_cache(cache: CacheSettings, redis_url: str) -> ResponseCache:
    if redis_url:
        return RedisResponseCache(redis_url, cache.max_value_kb * 1024)
    return LocalResponseCache(cache.max_mb * 1024 * 1024, cache.max_value_kb * 1024)


def _log_breaker(deployment: Deployment, old: BreakerState, new: BreakerState) -> None:
    level = "INFO" if new is BreakerState.CLOSED else "WARNING"
    logger.bind(provider=deployment.provider_id, upstream_model=deployment.upstream_model).log(
        level, "circuit breaker {} -> {}", old, new
    )
