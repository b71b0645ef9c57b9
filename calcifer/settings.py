"""Gateway settings: read once at start-up from config.yaml plus environment overrides.

This is the only module that reads the process environment. Everything else receives
the frozen `Settings` (and, for the catalog, the environment snapshot it carries).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import yaml

from calcifer.errors import ConfigurationError

__all__ = [
    "CorsSettings",
    "GatewaySettings",
    "LoggingSettings",
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


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = 8080
    """TCP port (env SERVER_PORT)."""
    workers: int = 1
    """Worker processes; each holds its own provider clients."""
    read_timeout: float = 30.0
    """Seconds a client may take to send its request (env SERVER_READ_TIMEOUT)."""
    write_timeout: float = 300.0
    """Seconds the gateway may stay silent while answering (env SERVER_WRITE_TIMEOUT).
    Streams reset it on every chunk; a non-streamed reasoning model may need minutes."""
    keep_alive: bool = True
    """Whether HTTP/1.1 connections are kept open between requests."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle kept-alive connection stays open."""
    max_request_body_bytes: int = 10 * 1024 * 1024
    """Requests with a larger body are refused with 413."""
    graceful_shutdown_seconds: float = 15.0
    """How long in-flight requests may run on after a stop signal."""


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


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    catalog_path: Path = Path("catalog")
    """A catalog YAML file or a directory of them."""
    catalog_watch_seconds: float = 5.0
    """How often each worker checks the catalog files for changes; 0 turns watching off."""
    master_key: str | None = field(default=None, repr=False)
    """Bearer key for the admin API (env CALCIFER_MASTER_KEY); no key, no admin API."""
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Snapshot of the environment taken at start-up; the catalog resolves `${VAR}` from it.
    Kept out of repr because it holds provider keys."""


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
    }
    _reject_unknown(document, {*sections, "catalog"}, str(path))
    built: dict[str, Any] = {
        name: _build(cls, document.get(name) or {}, f"{path}: {name}") for name, cls in sections.items()
    }
    catalog_section = document.get("catalog") or {}
    _reject_unknown(catalog_section, {"path", "watch_seconds"}, f"{path}: catalog")
    catalog_path = Path(str(catalog_section.get("path", "catalog")))
    if not catalog_path.is_absolute():
        catalog_path = path.parent / catalog_path
    settings = Settings(
        server=_server_overrides(built["server"], env),
        cors=_cors_overrides(built["cors"], env),
        gateway=built["gateway"],
        logging=built["logging"],
        telemetry=_telemetry_overrides(built["telemetry"], env),
        catalog_path=catalog_path,
        catalog_watch_seconds=float(str(catalog_section.get("watch_seconds", 5.0))),
        master_key=env.get("CALCIFER_MASTER_KEY", "").strip() or None,
        environment=env,
    )
    _check(settings)
    return settings


def _config_path(given: str | Path | None) -> Path:
    if given:
        return Path(given)
    local = Path(DEFAULT_CONFIG_PATH)
    return local if local.exists() else PACKAGED_CONFIG_PATH


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read config: {exc.strerror}") from exc
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    return document


def _reject_unknown(section: object, known: set[str], where: str) -> None:
    if not isinstance(section, dict):
        raise ConfigurationError(f"{where}: expected a mapping")
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")


def _build(cls: type[_T], section: object, where: str) -> _T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    _reject_unknown(section, known, where)
    assert isinstance(section, dict)
    defaults = cls()
    values = {key: _coerce(getattr(defaults, key), value, f"{where}.{key}") for key, value in section.items()}
    return cls(**values)


def _coerce(default: object, value: object, where: str) -> object:
    """Give `value` the type of the field's default, or explain why it cannot."""
    try:
        if isinstance(default, bool):
            return _parse_bool(value)
        if isinstance(default, int):
            return int(str(value))
        if isinstance(default, float):
            return float(str(value))
        if isinstance(default, tuple):
            return _parse_list(value)
        if default is None or isinstance(default, str):
            return None if value is None else str(value)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
    return value


def _parse_bool(value: object) -> bool:
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _parse_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _override(
    current: _T, env: Mapping[str, str], table: dict[str, str], parse: Callable[[str, object, str], object]
) -> _T:
    changes = {
        attr: parse(variable, getattr(current, attr), env[variable])
        for variable, attr in table.items()
        if env.get(variable, "").strip()
    }
    return replace(current, **changes) if changes else current  # type: ignore[type-var]


def _coerce_env(name: str, default: object, raw: str) -> object:
    return _coerce(default, raw.strip(), f"environment {name}")


def _server_overrides(server: ServerSettings, env: Mapping[str, str]) -> ServerSettings:
    table = {
        "SERVER_HOST": "host",
        "SERVER_PORT": "port",
        "SERVER_WORKERS": "workers",
        "SERVER_READ_TIMEOUT": "read_timeout",
        "SERVER_WRITE_TIMEOUT": "write_timeout",
    }
    return _override(server, env, table, _coerce_env)


def _cors_overrides(cors: CorsSettings, env: Mapping[str, str]) -> CorsSettings:
    table = {
        "CORS_ALLOWED_ORIGINS": "allowed_origins",
        "CORS_ALLOWED_METHODS": "allowed_methods",
        "CORS_ALLOWED_HEADERS": "allowed_headers",
    }
    return _override(cors, env, table, _coerce_env)


def _telemetry_overrides(telemetry: TelemetrySettings, env: Mapping[str, str]) -> TelemetrySettings:
    table = {
        "OTEL_SERVICE_NAME": "service_name",
        "OTEL_TRACES_EXPORTER": "traces_exporter",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "otlp_endpoint",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "otlp_traces_endpoint",
    }
    telemetry = _override(telemetry, env, table, _coerce_env)
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
    if not settings.gateway.request_deadline_seconds > 0:
        raise ConfigurationError("gateway.request_deadline_seconds: must be a positive number of seconds")
    if settings.logging.format not in {"human", "json"}:
        raise ConfigurationError("logging.format: must be 'human' or 'json'")
    if settings.logging.level.upper() not in {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError("logging.level: must be DEBUG, INFO, WARNING or ERROR")
    exporter = settings.telemetry.traces_exporter
    if exporter not in {"none", "console", "otlp"}:
        raise ConfigurationError(f"telemetry.traces_exporter: {exporter!r} is not none, console or otlp")
