"""The composition root: the one place that builds objects and wires them together."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from typing import Any

import punq
from loguru import logger
from opentelemetry.trace import Tracer
from sanic import Sanic

from calcifer.catalog import Catalog, load_catalog
from calcifer.domain.balancing import Balancer
from calcifer.domain.breaker import BreakerState
from calcifer.domain.directory import ProviderDirectory
from calcifer.domain.gateway import Gateway
from calcifer.domain.models import Deployment
from calcifer.domain.observer import CallObserver
from calcifer.domain.routing import ModelRouter
from calcifer.http.cors import Cors
from calcifer.http.handlers import Api
from calcifer.http.routes import register_http
from calcifer.providers.registry import build_directory
from calcifer.runtime import Runtime
from calcifer.settings import Settings
from calcifer.telemetry.logging import configure_logging
from calcifer.telemetry.tracing import ServerTracing, SpanObserver, build_tracer_provider
from calcifer.transport.registry import Transports

__all__ = ["build_api", "create_app"]

APP_NAME = "calcifer"


def build_api(settings: Settings, catalog: Catalog, tracer: Tracer, transports: Transports) -> Api:
    """Everything one catalog needs, resolved once per catalog; never per request.

    Called at start-up and again on each reload; must run inside the worker's event loop,
    because provider clients bind their connection pools to it."""
    container = punq.Container()
    container.register(Settings, instance=settings)
    container.register(Catalog, instance=catalog)
    kinds = {pid: config.kind for pid, config in catalog.providers.items()}
    container.register(CallObserver, instance=SpanObserver(tracer, kinds))
    container.register(ModelRouter, instance=ModelRouter(catalog.models.values()))
    container.register(ProviderDirectory, instance=build_directory(catalog, transports))
    balancer = Balancer(
        catalog.models.values(),
        breaker_settings=lambda provider_id: catalog.providers[provider_id].breaker,
        on_breaker_change=_log_breaker,
    )
    container.register(Balancer, instance=balancer)
    container.register(Gateway, scope=punq.Scope.singleton)
    container.register(Api, scope=punq.Scope.singleton)
    api: Api = container.resolve(Api)
    return api


def create_app(settings: Settings, catalog: Catalog | None = None) -> Sanic[Any, Any]:
    """A ready Sanic app; also the factory each worker process calls."""
    configure_logging(settings.logging)
    catalog = catalog or load_catalog(settings.catalog_path, settings.environment)
    tracer_provider = build_tracer_provider(settings.telemetry)
    tracer = tracer_provider.get_tracer("calcifer")
    # The worker's upstream connection pools: they outlive every catalog (closed at stop).
    transports = Transports()
    runtime = Runtime(settings, catalog, lambda current: build_api(settings, current, tracer, transports))
    app = Sanic(APP_NAME, configure_logging=False)
    _configure_server(app, settings)
    app.ctx.tracing = ServerTracing(tracer)
    app.ctx.runtime = runtime
    app.ctx.master_key = settings.master_key
    app.ctx.open_sinks = set()
    register_http(app, Cors(settings.cors))

    @app.before_server_start
    async def start_services(app: Sanic[Any, Any]) -> None:
        runtime.start()
        # Our own task, not Sanic's `add_task`: Sanic cancels its tasks first thing at a stop and
        # logs each as cut short; this one ends by itself once told to.
        app.ctx.catalog_watch = None
        if settings.catalog_watch_seconds > 0:
            watch = runtime.watch(settings.catalog_watch_seconds)
            app.ctx.catalog_watch = asyncio.get_running_loop().create_task(watch)
        # Everything built so far lives as long as the worker: keep it out of the garbage
        # collector's full scans, which otherwise stall a request for tens of milliseconds.
        gc.collect()
        gc.freeze()

    @app.after_server_start
    async def ready(app: Sanic[Any, Any]) -> None:
        # Listening now: from here on a SIGHUP reloads this worker's catalog.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(runtime.reload("SIGHUP")))
        logger.bind(pid=os.getpid()).info(
            "worker ready: catalog {}, {} models", catalog.version, len(catalog.models)
        )

    @app.before_server_stop
    async def end_streams_at_grace(app: Sanic[Any, Any]) -> None:
        # Sanic stops accepting, then lets in-flight requests run for the grace period and
        # aborts the rest. Streams still open shortly before that get a terminal error event.
        async def end_streams() -> None:
            await asyncio.sleep(max(0.0, settings.server.graceful_shutdown_seconds - 0.3))
            for sink in list(app.ctx.open_sinks):
                sink.shut_down()

        app.ctx.stream_ender = asyncio.get_running_loop().create_task(end_streams())
        runtime.stop_watching()

    @app.after_server_stop
    async def stop_services(app: Sanic[Any, Any]) -> None:
        app.ctx.stream_ender.cancel()
        if app.ctx.catalog_watch is not None:
            await app.ctx.catalog_watch
        await runtime.close()
        await transports.aclose()
        tracer_provider.shutdown()

    return app


def _log_breaker(deployment: Deployment, old: BreakerState, new: BreakerState) -> None:
    level = "INFO" if new is BreakerState.CLOSED else "WARNING"
    logger.bind(provider=deployment.provider_id, upstream_model=deployment.upstream_model).log(
        level, "circuit breaker {} -> {}", old, new
    )


def _configure_server(app: Sanic[Any, Any], settings: Settings) -> None:
    server = settings.server
    app.config.update(
        {
            "REQUEST_MAX_SIZE": server.max_request_body_bytes,
            "REQUEST_TIMEOUT": server.read_timeout,
            "RESPONSE_TIMEOUT": server.write_timeout,
            "KEEP_ALIVE": server.keep_alive,
            "KEEP_ALIVE_TIMEOUT": server.keep_alive_timeout,
            "GRACEFUL_SHUTDOWN_TIMEOUT": server.graceful_shutdown_seconds,
            "ACCESS_LOG": False,
            "MOTD": False,
            "FALLBACK_ERROR_FORMAT": "json",
        }
    )
