"""Gateway settings: read once at start-up from config.yaml plus environment overrides.

This is the only module that reads the process environment. Everything else receives
the frozen `Settings` (and, for the catalog, the environment snapshot it carries).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import yaml

from calcifer.errors import ConfigurationError
from calcifer.settings_sections import (
    AccessSettings,
    AuthSettings,
    CacheSettings,
    ConsoleSettings,
    CorsSettings,
    GatewaySettings,
    LedgerSettings,
    LoggingSettings,
    MetricsSettings,
    ServerSettings,
    TelemetrySettings,
)
from calcifer.settings_values import build_section, coerce_env, override, reject_unknown

__all__ = [
    "AccessSettings",
    "AuthSettings",
    "CacheSettings",
    "ConsoleSettings",
    "CorsSettings",
    "GatewaySettings",
    "LedgerSettings",
    "LoggingSettings",
    "MetricsSettings",
    "ServerSettings",
    "Settings",
    "TelemetrySettings",
    "environment_snapshot",
    "load_settings",
]

DEFAULT_CONFIG_PATH = "config.yaml"
PACKAGED_CONFIG_PATH = Path(__file__).resolve().parent / "defaults" / "config.yaml"
"""The shipped config.yaml and catalog, installed with the package: what `calcifer serve` runs on
when neither `--config`, `$CALCIFER_CONFIG` nor `./config.yaml` names another, and what
`calcifer init` copies."""


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    data_dir: Path = Path("data")
    """The access section's data directory, resolved (absolute when the config file's is)."""
    catalog_path: Path = Path("catalog")
    """A catalog YAML file or a directory of them."""
    catalog_watch_seconds: float = 5.0
    """How often each worker checks the catalog files for changes; 0 turns watching off."""
    master_key: str | None = field(default=None, repr=False)
    key_hash_secret: bytes | None = field(default=None, repr=False)
    """The secret virtual keys are hashed with (env CALCIFER_KEY_SECRET). Unset: one made at
    random and kept in the database; set it so that a copy of the database alone cannot be
    used to test guessed keys."""
    """Bearer key for the admin API (env CALCIFER_MASTER_KEY); no key, no admin API."""
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Snapshot of the environment taken at start-up; the catalog resolves `${VAR}` from it.
    Kept out of repr because it holds provider keys."""

    @property
    def keys_required(self) -> bool:
        """Whether API requests must present a virtual key (see AuthSettings.required)."""
        required = self.auth.required
        return required == "true" or (required == "auto" and self.master_key is not None)

    @property
    def database_url(self) -> str:
        """Where keys, teams and the ledger are kept: the configured URL, else the embedded
        SQLite file in the data directory."""
        return self.access.database_url or f"sqlite:///{self.data_dir / 'calcifer.db'}"


_T = TypeVar("_T")


def environment_snapshot() -> dict[str, str]:
    """A copy of the process environment, taken once."""
    return dict(os.environ)


def load_settings(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings: defaults, then config.yaml, then environment overrides."""
    env = dict(os.environ if environ is None else environ)
    path = _config_path(config_path or env.get("CALCIFER_CONFIG"))
    document = _read_yaml(path)
    sections = {
        "server": ServerSettings,
        "cors": CorsSettings,
        "gateway": GatewaySettings,
        "logging": LoggingSettings,
        "telemetry": TelemetrySettings,
        "auth": AuthSettings,
        "access": AccessSettings,
        "ledger": LedgerSettings,
        "metrics": MetricsSettings,
        "console": ConsoleSettings,
        "cache": CacheSettings,
    }
    reject_unknown(document, {*sections, "catalog"}, str(path))
    built: dict[str, Any] = {
        name: build_section(cls, document.get(name) or {}, f"{path}: {name}")
        for name, cls in sections.items()
    }
    catalog_section = document.get("catalog") or {}
    reject_unknown(catalog_section, {"path", "watch_seconds"}, f"{path}: catalog")
    catalog_path = Path(str(catalog_section.get("path", "catalog")))
    if not catalog_path.is_absolute():
        catalog_path = path.parent / catalog_path
    access = _access_overrides(built["access"], env)
    settings = Settings(
        server=_tls_paths(_server_overrides(built["server"], env), path.parent),
        cors=_cors_overrides(built["cors"], env),
        gateway=built["gateway"],
        logging=built["logging"],
        telemetry=_telemetry_overrides(built["telemetry"], env),
        auth=override(built["auth"], env, {"CALCIFER_AUTH_REQUIRED": "required"}, coerce_env),
        access=access,
        ledger=built["ledger"],
        metrics=override(built["metrics"], env, _METRICS_ENV, coerce_env),
        console=built["console"],
        cache=override(built["cache"], env, _CACHE_ENV, coerce_env),
        data_dir=_data_dir(path, access, env),
        catalog_path=catalog_path,
        catalog_watch_seconds=float(str(catalog_section.get("watch_seconds", 5.0))),
        master_key=env.get("CALCIFER_MASTER_KEY", "").strip() or None,
        key_hash_secret=env.get("CALCIFER_KEY_SECRET", "").strip().encode() or None,
        environment=env,
    )
    _check(settings)
    return settings


_CACHE_ENV = {"CALCIFER_CACHE_ENABLED": "enabled", "CALCIFER_CACHE_SAMPLED": "sampled"}
_METRICS_ENV = {"CALCIFER_METRICS_ENABLED": "enabled", "CALCIFER_METRICS_PUBLIC": "public"}


def _tls_paths(server: ServerSettings, base: Path) -> ServerSettings:
    if (server.tls_cert is None) != (server.tls_key is None):
        raise ConfigurationError("server.tls_cert and server.tls_key: set both (HTTPS) or neither")
    if server.tls_cert is None or server.tls_key is None:
        return server
    return replace(server, tls_cert=str(base / server.tls_cert), tls_key=str(base / server.tls_key))


def _config_path(given: str | Path | None) -> Path:
    if given:
        return Path(given)
    local = Path(DEFAULT_CONFIG_PATH)
    return local if local.exists() else PACKAGED_CONFIG_PATH


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word: the operator edits one and the
    gateway runs with the other. Here the second is an error naming both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' on line {line} (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read config: {exc.strerror}") from exc
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    return document


def _server_overrides(server: ServerSettings, env: Mapping[str, str]) -> ServerSettings:
    table = {
        "SERVER_HOST": "host",
        "SERVER_PORT": "port",
        "SERVER_WORKERS": "workers",
        "SERVER_READ_TIMEOUT": "read_timeout",
        "SERVER_WRITE_TIMEOUT": "write_timeout",
        "SERVER_MAX_CONNECTIONS": "max_connections",
    }
    return override(server, env, table, coerce_env)


def _access_overrides(access: AccessSettings, env: Mapping[str, str]) -> AccessSettings:
    table = {
        "CALCIFER_DATA_DIR": "data_dir",
        "CALCIFER_DATABASE_URL": "database_url",
        "CALCIFER_REDIS_URL": "redis_url",
    }
    return override(access, env, table, coerce_env)


def _data_dir(config_path: Path, access: AccessSettings, env: Mapping[str, str]) -> Path:
    """The data directory: as set, relative to the config file; for the packaged config
    (read-only, inside the installation) the user's data home instead."""
    given = Path(access.data_dir).expanduser()
    if given.is_absolute() or env.get("CALCIFER_DATA_DIR", "").strip():
        return given
    # Compared as written, not resolved: in a checkout the packaged config is a link to the
    # repository's own, which keeps its data next to it.
    if os.path.abspath(config_path) == os.path.abspath(PACKAGED_CONFIG_PATH):
        home = env.get("XDG_DATA_HOME", "").strip() or str(Path(env.get("HOME", "~")) / ".local" / "share")
        return Path(home).expanduser() / "calcifer"
    return config_path.parent / given


def _cors_overrides(cors: CorsSettings, env: Mapping[str, str]) -> CorsSettings:
    table = {
        "CORS_ALLOWED_ORIGINS": "allowed_origins",
        "CORS_ALLOWED_METHODS": "allowed_methods",
        "CORS_ALLOWED_HEADERS": "allowed_headers",
    }
    return override(cors, env, table, coerce_env)


def _telemetry_overrides(telemetry: TelemetrySettings, env: Mapping[str, str]) -> TelemetrySettings:
    table = {
        "OTEL_SERVICE_NAME": "service_name",
        "OTEL_TRACES_EXPORTER": "traces_exporter",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "otlp_endpoint",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "otlp_traces_endpoint",
        "OTEL_METRICS_EXPORTER": "metrics_exporter",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "otlp_metrics_endpoint",
        "OTEL_METRIC_EXPORT_INTERVAL": "metrics_export_ms",
    }
    telemetry = override(telemetry, env, table, coerce_env)
    raw_headers = env.get("OTEL_EXPORTER_OTLP_HEADERS", "").strip()
    if raw_headers:
        # The OpenTelemetry spec's format: `k=v` pairs, percent-encoded (`Bearer%20token`).
        pairs = (item.split("=", 1) for item in raw_headers.split(",") if "=" in item)
        telemetry = replace(
            telemetry, otlp_headers=tuple((unquote(k.strip()), unquote(v.strip())) for k, v in pairs)
        )
    return telemetry


def _check(settings: Settings) -> None:
    server = settings.server
    if not 0 < server.port < 65536:
        raise ConfigurationError(f"server.port: {server.port} is not a TCP port")
    if server.workers < 1:
        raise ConfigurationError("server.workers: must be at least 1")
    if server.max_request_body_bytes < 1024:
        raise ConfigurationError("server.max_request_body_bytes: must be at least 1024")
    if server.max_connections < 1:
        raise ConfigurationError("server.max_connections: must be at least 1")
    if not settings.gateway.request_deadline_seconds > 0:
        raise ConfigurationError("gateway.request_deadline_seconds: must be a positive number of seconds")
    if settings.console.session_seconds < 1:
        raise ConfigurationError("console.session_seconds: must be at least 1")
    if settings.logging.format not in {"human", "json"}:
        raise ConfigurationError("logging.format: must be 'human' or 'json'")
    if settings.logging.level.upper() not in {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError("logging.level: must be DEBUG, INFO, WARNING or ERROR")
    _check_auth(settings)
    _check_cache(settings.cache)
    _check_access(settings.access, settings.ledger)
    path = settings.metrics.path
    if not path.startswith("/") or path.startswith(("/v1/", "/admin/")) or path in {"/", "/health"}:
        raise ConfigurationError(f"metrics.path: {path!r} must start with / and not be an API path")
    telemetry = settings.telemetry
    for name, exporter in (("traces", telemetry.traces_exporter), ("metrics", telemetry.metrics_exporter)):
        if exporter not in {"none", "console", "otlp"}:
            raise ConfigurationError(f"telemetry.{name}_exporter: {exporter!r} is not none, console or otlp")
    if telemetry.metrics_export_ms < 100:
        raise ConfigurationError("telemetry.metrics_export_ms: at least 100 (milliseconds)")


def _check_auth(settings: Settings) -> None:
    required = settings.auth.required
    if required not in {"auto", "true", "false"}:
        raise ConfigurationError(f"auth.required: {required!r} is not auto, true or false")
    host = settings.server.host
    if required == "auto" and not settings.keys_required and host not in {"127.0.0.1", "::1", "localhost"}:
        raise ConfigurationError(
            f"server.host {host} serves the network, but no API key is required (no CALCIFER_MASTER_KEY"
            " is set): anyone who can reach the port could spend the provider keys. Set"
            " CALCIFER_MASTER_KEY (keys are then required), or set auth.required: false to serve"
            " the network without keys on purpose"
        )


def _check_access(access: AccessSettings, ledger: LedgerSettings) -> None:
    if access.fail_mode not in {"closed", "open"}:
        raise ConfigurationError(f"access.fail_mode: {access.fail_mode!r} is not closed or open")
    url = access.database_url
    if url and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigurationError("access.database_url: expected sqlite:///… or postgresql://…")
    if access.redis_url and not access.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError("access.redis_url: expected redis://…, rediss://… or unix://…")
    if access.max_hold_usd <= 0:
        raise ConfigurationError("access.max_hold_usd: must be more than 0")
    if access.hold_lease_seconds < 60 or access.refresh_seconds <= 0:
        raise ConfigurationError("access.hold_lease_seconds must be at least 60, refresh_seconds more than 0")
    if ledger.batch_size < 1 or ledger.flush_seconds <= 0 or ledger.queue_limit < ledger.batch_size:
        raise ConfigurationError("ledger: batch_size ≥ 1, flush_seconds > 0, queue_limit ≥ batch_size")
    if ledger.spool_max_mb < 1 or min(ledger.retention_days, ledger.responses_retention_days) < 0:
        raise ConfigurationError("ledger: spool_max_mb ≥ 1, retention_days and responses_retention_days ≥ 0")


def _check_cache(cache: CacheSettings) -> None:
    if cache.scope not in {"key", "team", "global"}:
        raise ConfigurationError(f"cache.scope: {cache.scope!r} is not key, team or global")
    if cache.ttl_seconds <= 0 or cache.max_mb < 1 or cache.max_value_kb < 1:
        raise ConfigurationError("cache: ttl_seconds > 0, max_mb ≥ 1 and max_value_kb ≥ 1")
    if not 0 <= cache.hit_cost_fraction <= 1:
        raise ConfigurationError("cache.hit_cost_fraction: between 0 and 1")
