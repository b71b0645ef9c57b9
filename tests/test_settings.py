"""Settings: config.yaml, then the seeds' environment variables on top; unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcifer.errors import ConfigurationError
from calcifer.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_loads_with_catalog_next_to_it() -> None:
    settings = load_settings(ROOT / "config.yaml", environ={})
    assert settings.server.port == 8080
    assert settings.catalog_path == ROOT / "catalog"
    assert settings.telemetry.traces_exporter == "none"


def test_seed_environment_variables_override_the_file() -> None:
    env = {
        "SERVER_PORT": "9191",
        "SERVER_READ_TIMEOUT": "7",
        "SERVER_WRITE_TIMEOUT": "45",
        "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "CORS_ALLOWED_METHODS": "GET,POST",
        "CORS_ALLOWED_HEADERS": "Content-Type",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_SERVICE_NAME": "gw",
    }
    settings = load_settings(ROOT / "config.yaml", environ=env)
    assert (settings.server.port, settings.server.read_timeout, settings.server.write_timeout) == (
        9191,
        7,
        45,
    )
    assert settings.cors.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.cors.allowed_methods == ("GET", "POST")
    assert settings.telemetry.traces_exporter == "otlp"
    assert settings.telemetry.service_name == "gw"


def test_calcifer_config_variable_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("server:\n  port: 1234\n")
    settings = load_settings(environ={"CALCIFER_CONFIG": str(tmp_path / "c.yaml")})
    assert settings.server.port == 1234
    assert settings.catalog_path == tmp_path / "catalog"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("server:\n  prot: 1\n", {}, "unknown key(s) prot"),
        ("serve:\n  port: 1\n", {}, "unknown key(s) serve"),
        ("server:\n  port: eighty\n", {}, "server.port"),
        ("logging:\n  format: xml\n", {}, "logging.format"),
        ("", {"SERVER_PORT": "http"}, "SERVER_PORT"),
        ("", {"SERVER_MAX_CONNECTIONS": "0"}, "server.max_connections"),
        ("cache:\n  scope: world\n", {}, "cache.scope"),
        ("cache:\n  hit_cost_fraction: 2\n", {}, "cache.hit_cost_fraction"),
        ("cache:\n  ttl_seconds: 0\n", {}, "cache: ttl_seconds"),
        # the second of two keys would silently win: the operator edited one and runs the other
        ("gateway:\n  request_deadline_seconds: 5\n  request_deadline_seconds: 50\n", {}, "line 3"),
        ("server: {}\nserver:\n  port: 1\n", {}, "duplicate key 'server'"),
    ],
)
def test_bad_settings_stop_with_a_message(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path / "c.yaml", environ=env)
    assert message in caught.value.message


def test_environment_snapshot_is_not_in_repr() -> None:
    settings = load_settings(ROOT / "config.yaml", environ={"OPENAI_API_KEY": "sk-do-not-print"})
    assert "sk-do-not-print" not in repr(settings)


def test_the_cache_is_off_as_shipped_and_turned_on_by_the_environment() -> None:
    shipped = Path(__file__).resolve().parent.parent / "config.yaml"
    assert load_settings(shipped, environ={}).cache.enabled is False
    on = load_settings(shipped, environ={"CALCIFER_CACHE_ENABLED": "true", "CALCIFER_CACHE_SAMPLED": "1"})
    assert on.cache.enabled and on.cache.sampled
