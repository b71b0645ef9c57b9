"""Real PostgreSQL and Redis servers for tests, started on loopback with throw-away data.

Pytest fixtures (session scope, registered in tests/conftest.py): `postgres_url`, `redis_url`,
and the handles behind them, `postgres_server` and `redis_server`. Do not stop the shared
session servers in a test; a test that stops or restarts a server (outage tests) starts its
own with `start_postgres()` / `start_redis()` and closes it. Without pytest:

    from tests.servers import start_postgres
    server = start_postgres()   # .url, .port, .stop(), .start(), .close()
"""

from tests.servers._process import ServerUnavailable
from tests.servers.postgres_server import PostgresServer, start_postgres
from tests.servers.redis_server import RedisServer, start_redis

__all__ = ["PostgresServer", "RedisServer", "ServerUnavailable", "start_postgres", "start_redis"]
