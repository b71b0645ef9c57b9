"""The real PostgreSQL and Redis the suite starts: clients connect, outages keep data, nothing leaks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from tests.servers import start_postgres, start_redis

ROOT = Path(__file__).resolve().parents[2]


def test_asyncpg_connects_to_the_session_postgres_and_runs_a_query(postgres_url: str) -> None:
    async def scenario() -> tuple[int, str]:
        conn = await asyncpg.connect(postgres_url)
        try:
            total = await conn.fetchval("SELECT sum(x) FROM generate_series(1, $1::int) AS x", 10)
            version = await conn.fetchval("SHOW server_version")
            return int(total), str(version)
        finally:
            await conn.close()

    total, version = asyncio.run(scenario())
    assert total == 55
    assert int(version.split(".")[0]) >= 15


def test_redis_asyncio_pings_and_runs_a_lua_script(redis_url: str) -> None:
    async def scenario() -> tuple[bool, int, int]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            pong = await client.ping()
            incr_by = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            await client.delete("servers-test:counter")
            await incr_by(keys=["servers-test:counter"], args=[3])
            via_eval = await client.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1,
                                         "servers-test:counter", 4)
            info = await client.info("server")
            return bool(pong), int(via_eval), int(str(info["redis_version"]).split(".")[0])
        finally:
            await client.aclose()

    pong, counter, major = asyncio.run(scenario())
    assert pong
    assert counter == 7
    assert major >= 7


def test_postgres_keeps_its_data_across_stop_and_start(tmp_path: Path) -> None:
    server = start_postgres(tmp_path)
    try:
        asyncio.run(_pg_execute(server.url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"))
        port = server.port
        server.stop()
        assert not server.running
        refused = asyncio.run(_pg_refuses(server.url))
        server.start()
        assert server.port == port
        assert refused
        assert asyncio.run(_pg_fetchval(server.url, "SELECT v FROM kept")) == 42
    finally:
        server.close()
    assert not server.workdir.exists()


def test_redis_keeps_its_data_across_stop_and_start(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        asyncio.run(_redis_set(server.url, "kept", "42"))
        server.stop()
        server.start()
        assert asyncio.run(_redis_get(server.url, "kept")) == b"42"
    finally:
        server.close()
    assert not server.workdir.exists()


def test_a_pytest_session_leaves_no_server_process_and_no_directory(tmp_path: Path) -> None:
    # A child pytest session uses both session fixtures and prints what they started; after it has
    # exited, neither process may still exist and both data directories must be gone.
    (tmp_path / "conftest.py").write_text(
        "from tests.servers.fixtures import postgres_server, redis_server  # noqa: F401\n"
    )
    (tmp_path / "test_child.py").write_text(textwrap.dedent("""
        from pathlib import Path

        def test_start(postgres_server, redis_server):
            started = [postgres_server._process.pid, redis_server._process.pid,
                       postgres_server.workdir, redis_server.workdir]
            Path("started.txt").write_text(" ".join(map(str, started)))
    """))
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120, check=False,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    pg_pid, redis_pid, pg_dir, redis_dir = (tmp_path / "started.txt").read_text().split()
    for pid in (pg_pid, redis_pid):
        assert not _process_exists(int(pid)), f"server process {pid} outlived the session"
    assert not Path(pg_dir).exists()
    assert not Path(redis_dir).exists()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _pg_execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_fetchval(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _pg_refuses(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return True
    await conn.close()
    return False


async def _redis_set(url: str, key: str, value: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.set(key, value)
    finally:
        await client.aclose()


async def _redis_get(url: str, key: str) -> bytes | str | None:
    client = aioredis.Redis.from_url(url)
    try:
        return await client.get(key)
    finally:
        await client.aclose()
