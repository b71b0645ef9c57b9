"""Session-scoped pytest fixtures for the real servers; each server starts on first use only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.postgres_server import PostgresServer, start_postgres
from tests.servers.redis_server import RedisServer, start_redis


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """postgresql://postgres@127.0.0.1:<port>/postgres (trusted superuser, no password)."""
    return postgres_server.url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """redis://127.0.0.1:<port>/0"""
    return redis_server.url
