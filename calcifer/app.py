"""The composition root: the one place that builds objects and wires them together.

manager process   MachineState (breakers and the catalog version the workers share),
                  when there are several workers
each worker       ProcessScope (health, adapters, tracing) → Runtime (the serving
                  CatalogScope, reloads) → the request pipeline and routes
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import punq
from loguru import logger
from sanic import Sanic

from calcifer.catalog import Catalog, load_catalog
from calcifer.domain.breaker import BreakerState
from calcifer.http.console.routes import register_console
from calcifer.http.console.session import SessionSigner
from calcifer.http.hooks.admit import Admit
from calcifer.http.hooks.authenticate import Authenticate
from calcifer.http.hooks.cors import Cors
from calcifer.http.hooks.log_line import LogLine
from calcifer.http.hooks.metrics import Metrics
from calcifer.http.hooks.pin_catalog import PinCatalog
from calcifer.http.hooks.settle import Settle
from calcifer.http.hooks.span import ServerSpan
from calcifer.http.pipeline import Hook, Pipeline
from calcifer.http.request import GatewayRequest
from calcifer.http.routes import register_http
from calcifer.http.server_limits import MAX_CONNECTIONS_KEY
from calcifer.runtime import Runtime
from calcifer.runtime.access import AccessRuntime
from calcifer.runtime.process_scope import ProcessScope
from calcifer.settings import Settings
from calcifer.state.cache_local import LocalResponseCache
from calcifer.state.machine import MachineState
from calcifer.telemetry.genai_metrics import GenAiMetrics
from calcifer.telemetry.logging import configure_logging
from calcifer.telemetry.request_log import RequestLog
from calcifer.telemetry.tracing import build_tracer_provider, genai_provider_name, records_spans

__all__ = ["create_app"]

APP_NAME = "calcifer"


class _Wiring:
    """What one worker builds when it starts; resolved once through the container."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        machine: MachineState | None,
        request_log: RequestLog,
        access: AccessRuntime,
    ) -> None:
        self.process = ProcessScope.build(settings, build_tracer_provider(settings.telemetry), machine)
        self.runtime = Runtime(self.process, catalog)
        container = punq.Container()
        container.register(PinCatalog, instance=PinCatalog(lambda: self.runtime.current))
        container.register(Authenticate, instance=Authenticate(access.authenticator))
        container.register(Admit, instance=Admit(access.admission))
        container.register(
            ServerSpan, instance=ServerSpan(self.process.tracer, records_spans(settings.telemetry))
        )
        self.settle = Settle(access.admission, access.writer)
        container.register(Settle, instance=self.settle)
        container.register(LogLine, instance=LogLine(request_log))
        # The order requests go through them (see calcifer.http.pipeline).
        order: tuple[type, ...] = (PinCatalog, Authenticate, Admit, ServerSpan, Settle, Metrics, LogLine)
        metrics, meters = self.process.metrics, self.process.meter_provider
        genai = GenAiMetrics(meters, self._provider_name) if meters is not None else None
        if metrics is None and genai is None:
            order = tuple(hook for hook in order if hook is not Metrics)
        container.register(Metrics, instance=Metrics(metrics, genai))
        self.worker_cache_bytes = _size_reader(self.process.response_cache)
        if metrics is not None:
            metrics.watch_breakers(self._breakers)
            if self.worker_cache_bytes is not None:
                metrics.watch_cache_bytes(self.worker_cache_bytes)
        self.hooks: list[Hook] = [container.resolve(hook) for hook in order]

    def _provider_name(self, provider_id: str) -> str:
        return genai_provider_name(self.runtime.current.provider_kinds.get(provider_id, provider_id))

    def _breakers(self) -> Iterator[tuple[str, str, bool]]:
        for state in self.runtime.current.gateway.balancer.all_states():
            deployment, closed = state.deployment, state.breaker.state is BreakerState.CLOSED
            yield deployment.provider_id, deployment.upstream_model, not closed


def _size_reader(cache: object) -> Callable[[], int] | None:
    """The in-process cache's size in bytes; None for Redis, which the gateway does not measure
    (docs/observability.md)."""
    if isinstance(cache, LocalResponseCache):
        local = cache
        return lambda: local.bytes_held
    return None


def create_app(settings: Settings, catalog: Catalog | None = None) -> Sanic[Any, Any]:
    """A ready Sanic app; also the factory each worker process calls."""
    configure_logging(settings.logging)
    catalog = catalog or load_catalog(settings.catalog_path, settings.environment)
    app = Sanic(APP_NAME, configure_logging=False, request_class=GatewayRequest)
    _configure_server(app, settings)
    app.ctx.master_key = settings.master_key
    app.ctx.open_sinks = set()
    app.ctx.request_log = RequestLog(settings.logging)
    pipeline = Pipeline()
    app.ctx.metrics_public = settings.metrics.public
    app.ctx.metrics_per_key = settings.metrics.per_key
    metrics_path = settings.metrics.path if settings.metrics.enabled else None
    register_http(app, pipeline, Cors(settings.cors), metrics_path)
    app.ctx.console_settings = settings.console
    app.ctx.console_signer = None
    if settings.console.enabled:
        register_console(app)
    _start_services(app, settings, catalog, pipeline)
    _stop_services(app, settings)
    return app


def _start_services(app: Sanic[Any, Any], settings: Settings, catalog: Catalog, pipeline: Pipeline) -> None:
    """What each worker builds when it starts (and what the manager shares with them before)."""

    @app.main_process_start
    async def share_machine_state(app: Sanic[Any, Any]) -> None:
        if settings.server.workers > 1:
            MachineState.create().put(app.shared_ctx)

    @app.before_server_start
    async def start_services(app: Sanic[Any, Any]) -> None:
        machine = MachineState.taken_from(app.shared_ctx)
        access = await AccessRuntime.open(settings, machine)
        wiring = _Wiring(settings, catalog, machine, app.ctx.request_log, access)
        app.ctx.process, app.ctx.runtime, app.ctx.access = wiring.process, wiring.runtime, access
        app.ctx.settle = wiring.settle
        if settings.master_key:  # the console's sessions; no master key, no console
            app.ctx.console_signer = SessionSigner(access.hashing_secret, settings.master_key)
        app.ctx.metrics = wiring.process.metrics
        app.ctx.worker_cache_bytes = wiring.worker_cache_bytes
        pipeline.install(wiring.hooks)
        # Before the socket answers anything: a SIGHUP that arrives as soon as the gateway is
        # seen healthy must reload, not end the process (SIGHUP's default).
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(wiring.runtime.reload("SIGHUP")))
        # Our own task, not Sanic's `add_task`: Sanic cancels its tasks first thing at a stop and
        # logs each as cut short; this one ends by itself once told to.
        watch = wiring.runtime.watch(settings.catalog_watch_seconds)
        app.ctx.catalog_watch = asyncio.get_running_loop().create_task(watch)
        app.ctx.ledger_gauges = asyncio.get_running_loop().create_task(_sample_gauges(wiring.process, access))
        # Everything built so far lives as long as the worker: keep it out of the garbage
        # collector's full scans, which otherwise stall a request for tens of milliseconds.
        gc.collect()
        gc.freeze()

    @app.after_server_start
    async def ready(app: Sanic[Any, Any]) -> None:
        logger.bind(pid=os.getpid()).info(
            "worker ready: catalog {}, {} models", catalog.version, len(catalog.models)
        )


def _stop_services(app: Sanic[Any, Any], settings: Settings) -> None:
    """How each worker stops: streams ended before the grace period runs out, then what
    `_start_services` built closed in order."""

    @app.before_server_stop
    async def end_streams_at_grace(app: Sanic[Any, Any]) -> None:
        # Sanic stops accepting, then lets in-flight requests run for the grace period and
        # aborts the rest. Streams still open shortly before that get a terminal error event.
        async def end_streams() -> None:
            await asyncio.sleep(max(0.0, settings.server.graceful_shutdown_seconds - 0.3))
            for sink in list(app.ctx.open_sinks):
                sink.shut_down()

        app.ctx.stream_ender = asyncio.get_running_loop().create_task(end_streams())
        app.ctx.runtime.stop_watching()

    @app.after_server_stop
    async def stop_services(app: Sanic[Any, Any]) -> None:
        app.ctx.stream_ender.cancel()
        app.ctx.ledger_gauges.cancel()
        await app.ctx.catalog_watch
        await app.ctx.runtime.close()
        await app.ctx.settle.drain()  # every hold settled before the counters close
        await app.ctx.access.aclose()  # the ledger flushed
        await app.ctx.process.aclose()


async def _sample_gauges(process: ProcessScope, access: AccessRuntime) -> None:
    """The ledger's gauges and the cache's size, once a second: each worker reports its own."""
    metrics = process.metrics
    if metrics is None:
        return
    while True:
        metrics.ledger_queue.set(access.writer.queue_depth)
        metrics.ledger_spooled.set(access.writer.spooled_records)
        metrics.sample_cache_bytes()
        await asyncio.sleep(1.0)


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
            # Read by calcifer.http.server_limits.GatewayProtocol, which `serve` runs Sanic with.
            MAX_CONNECTIONS_KEY: server.max_connections,
        }
    )
