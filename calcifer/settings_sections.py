"""The sections of the gateway's settings, one frozen dataclass each (`calcifer.settings` reads
them from config.yaml and the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "AccessSettings",
    "AuthSettings",
    "ConsoleSettings",
    "CorsSettings",
    "GatewaySettings",
    "LedgerSettings",
    "LoggingSettings",
    "MetricsSettings",
    "ServerSettings",
    "TelemetrySettings",
]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = 8080
    """TCP port (env SERVER_PORT)."""
    workers: int = 1
    """Worker processes; each holds its own provider clients."""
    read_timeout: float = 30.0
    """Seconds a client may take to send its request, head and body together, counted from its
    first byte; slower ones are answered 408 (env SERVER_READ_TIMEOUT)."""
    write_timeout: float = 300.0
    """Seconds the gateway may stay silent while answering (env SERVER_WRITE_TIMEOUT).
    Streams reset it on every chunk; a non-streamed reasoning model may need minutes. Also how long
    a client may read nothing of an answer before the connection is closed (an error is logged)."""
    keep_alive: bool = True
    """Whether HTTP/1.1 connections are kept open between requests."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle kept-alive connection stays open."""
    max_request_body_bytes: int = 10 * 1024 * 1024
    """Requests with a larger body are refused with 413."""
    graceful_shutdown_seconds: float = 15.0
    """How long in-flight requests may run on after a stop signal."""
    max_connections: int = 1000
    """Client connections one worker holds at once (env SERVER_MAX_CONNECTIONS); further ones are
    closed at once. Keep it below the process's open-file limit."""
    tls_cert: str | None = None
    """PEM certificate (chain) file: serve HTTPS instead of HTTP (with `tls_key`; paths relative to
    the config file)."""
    tls_key: str | None = None
    """PEM private key file of `tls_cert`."""


@dataclass(frozen=True, slots=True)
class CorsSettings:
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (env CORS_ALLOWED_ORIGINS, comma-separated);
    none by default, so that a web page a user opens cannot spend the gateway's provider keys."""
    allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
    """Methods announced in pre-flight answers (env CORS_ALLOWED_METHODS)."""
    allowed_headers: tuple[str, ...] = ("Content-Type", "Authorization")
    """Request headers announced in pre-flight answers (env CORS_ALLOWED_HEADERS)."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    request_deadline_seconds: float = 50.0
    """Overall deadline of every request: retries, backoffs and fallbacks all fit in it, and when
    it passes the client gets 504. Below the 60 s that many clients, proxies and load balancers
    give up after, so a client hears why rather than seeing its connection dropped. A
    non-streamed answer must be whole within it; a stream must have *started* (first chunk)
    within it, then runs on, bounded by the providers' `max_stream_seconds` and idle timeouts.
    A client's `X-Calcifer-Timeout-Ms` may shorten it, never lengthen it."""
    route_retired_to_replacement: bool = False
    """A request for a model past its catalog `retires_on` day is served by the model's
    `replacement` (true), or refused with 410 `model_retired` naming it (false, the default)."""


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "INFO"
    """Lowest level written: DEBUG, INFO, WARNING, ERROR."""
    format: str = "human"
    """`human` for a terminal, `json` for one JSON object per line."""


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    service_name: str = "calcifer"
    """OpenTelemetry service.name (env OTEL_SERVICE_NAME)."""
    traces_exporter: str = "none"
    """`none`, `console` or `otlp` (env OTEL_TRACES_EXPORTER)."""
    otlp_endpoint: str = "http://localhost:4318"
    """OTLP/HTTP base URL; traces go to {endpoint}/v1/traces (env OTEL_EXPORTER_OTLP_ENDPOINT)."""
    otlp_traces_endpoint: str | None = None
    """Full traces URL, when it is not {endpoint}/v1/traces (env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)."""
    otlp_headers: tuple[tuple[str, str], ...] = ()
    """Headers sent to the collector (env OTEL_EXPORTER_OTLP_HEADERS, `k=v,k2=v2`)."""
    metrics_exporter: str = "none"
    """`none`, `console` or `otlp`: the GenAI metrics (env OTEL_METRICS_EXPORTER)."""
    otlp_metrics_endpoint: str | None = None
    """Full metrics URL, when it is not {endpoint}/v1/metrics (env OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)."""
    metrics_export_ms: int = 60_000
    """How often metrics are exported (env OTEL_METRIC_EXPORT_INTERVAL, milliseconds)."""


@dataclass(frozen=True, slots=True)
class AuthSettings:
    required: str = "auto"
    """Whether API requests need a virtual key (env CALCIFER_AUTH_REQUIRED). `auto`: yes once
    a master key is set (keys can then be issued), no otherwise; `true`; `false`. Without it,
    every caller is anonymous (recorded, unlimited) and the gateway only serves loopback
    unless `false` is chosen explicitly."""


@dataclass(frozen=True, slots=True)
class AccessSettings:
    data_dir: str = "data"
    """Where the embedded database and the ledger spool live, relative to this file (env
    CALCIFER_DATA_DIR). With the packaged config: $XDG_DATA_HOME/calcifer."""
    database_url: str = ""
    """`sqlite:///path` or `postgresql://…` (env CALCIFER_DATABASE_URL); empty: a SQLite file
    `calcifer.db` in the data directory."""
    redis_url: str = ""
    """`redis://…` (env CALCIFER_REDIS_URL) for counters shared by replicas; empty: this
    machine only (shared memory between its workers)."""
    fail_mode: str = "closed"
    """When counters or the key store cannot be reached: `closed` answers 503
    `limits_unavailable`; `open` serves without limits (logged, shown in /health)."""
    max_hold_usd: Decimal = Decimal("1.00")
    """The most one request may hold against a budget before it is served: the estimate
    (prompt + max_tokens) is capped here, so agents asking for huge max_tokens are not
    refused on a small budget. A request can overshoot a budget by at most its cost
    beyond this cap."""
    hold_lease_seconds: float = 900.0
    """A reservation not settled by then lapses by itself (its worker died); longer than any
    request may last."""
    refresh_seconds: float = 1.0
    """How often each worker picks up key, team and budget changes from the store."""


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    batch_size: int = 500
    """Records written in one transaction at most."""
    flush_seconds: float = 0.5
    """A record waits at most this long before it is written; also what `kill -9` can lose."""
    queue_limit: int = 50_000
    """Records kept in memory while the database is slow; past this they go to the spool."""
    spool_max_mb: int = 256
    """Disk kept for records the database could not take; when full, the oldest are dropped
    (logged as lost)."""
    retention_days: int = 90
    """Raw records older than this are rolled into daily totals and deleted (0: keep all)."""
    responses_retention_days: int = 30
    """Stored Responses API state (`previous_response_id`) is deleted after this (0: keep all)."""


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    enabled: bool = True
    """Serve Prometheus metrics at `path` (env CALCIFER_METRICS_ENABLED)."""
    path: str = "/metrics"
    public: bool = False
    """Scrapes need no master key: only for a gateway inside a private network (env
    CALCIFER_METRICS_PUBLIC)."""
    per_key: bool = False
    """Label request and cost counters with the virtual key's id (one series per key)."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    enabled: bool = True
    """Serve the web console at `/admin/` (it also needs CALCIFER_MASTER_KEY)."""
    session_seconds: int = 8 * 3600
    """How long a console sign-in lasts."""
    secure_cookies: bool = False
    """Mark the session cookie `Secure` even over plain HTTP: behind a proxy that terminates TLS.
    Over HTTPS served by the gateway itself it always is."""


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The response cache (docs/cache.md); a model's catalog `cache:` overrides the first five."""

    enabled: bool = False
    """Answer identical requests from the cache (off by default; env CALCIFER_CACHE_ENABLED)."""
    ttl_seconds: float = 300.0
    scope: str = "key"
    """Who shares an entry: `key` (the same virtual key), `team` or `global`."""
    sampled: bool = False
    """Also cache requests with `temperature > 0` or left at the provider's default (env
    CALCIFER_CACHE_SAMPLED)."""
    multiple_choices: bool = False
    """Also cache requests with `n > 1`."""
    max_mb: int = 64
    """Size of the in-process cache of each worker (Redis: its own `maxmemory`)."""
    max_value_kb: int = 1024
    """Answers larger than this are not cached."""
    hit_cost_fraction: Decimal = Decimal(0)
    """What a hit costs the client, as a fraction of the original answer's cost."""
    hits_count_as_spend: bool = False
    """Count a hit against the key's and team's budgets at the original answer's whole cost
    (else at what the hit is billed: `hit_cost_fraction` of it, 0 by default)."""
    replay_pacing: bool = False
    """Replay a cached stream at the pace it first arrived (else at full speed)."""
