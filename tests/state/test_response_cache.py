"""The response cache's backends, in process and in a real Redis: what a lookup returns after
a store, after its TTL, past the size bounds, and with Redis gone."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from calcifer.domain.ports import ResponseCache
from calcifer.state.cache_local import LocalResponseCache
from calcifer.state.cache_redis import RedisResponseCache


@pytest.fixture(params=["local", "redis"])
def make_cache(request: pytest.FixtureRequest) -> type:
    """A factory of caches on one backend; each test's Redis keys are its own (a fresh prefix
    is not needed: keys are random per test)."""
    if request.param == "local":
        return lambda max_value_bytes=1 << 20: LocalResponseCache(1 << 22, max_value_bytes)
    url = request.getfixturevalue("redis_url")
    return lambda max_value_bytes=1 << 20: RedisResponseCache(url, max_value_bytes)


def _key() -> str:
    return f"test-{time.time_ns()}"


def test_a_stored_value_is_found_and_an_unknown_key_misses(make_cache: type) -> None:
    async def scenario() -> None:
        cache: ResponseCache = make_cache()
        key = _key()
        assert await cache.get(key) is None
        await cache.put(key, b"answer", 60)
        assert await cache.get(key) == b"answer"
        assert await cache.get(key + "-other") is None
        await cache.aclose()

    asyncio.run(scenario())


def test_an_entry_expires_after_its_own_ttl(make_cache: type) -> None:
    async def scenario() -> None:
        cache: ResponseCache = make_cache()
        short, long = _key(), _key() + "-long"
        await cache.put(short, b"soon gone", 0.1)
        await cache.put(long, b"still here", 60)
        await asyncio.sleep(0.2)
        assert await cache.get(short) is None
        assert await cache.get(long) == b"still here"
        await cache.aclose()

    asyncio.run(scenario())


def test_a_value_over_the_cap_is_not_stored(make_cache: type) -> None:
    async def scenario() -> None:
        cache: ResponseCache = make_cache(max_value_bytes=10)
        key = _key()
        await cache.put(key, b"x" * 11, 60)
        assert await cache.get(key) is None
        await cache.put(key, b"x" * 10, 60)
        assert await cache.get(key) == b"x" * 10
        await cache.aclose()

    asyncio.run(scenario())


def test_the_in_process_cache_drops_the_least_recently_used_past_its_size() -> None:
    async def scenario() -> None:
        cache = LocalResponseCache(max_bytes=30)
        for name in "abc":
            await cache.put(name, name.encode() * 10, 60)
        assert await cache.get("a") is not None  # now the most recently used
        await cache.put("d", b"d" * 10, 60)
        assert await cache.get("b") is None
        assert [await cache.get(name) for name in "acd"] == [b"a" * 10, b"c" * 10, b"d" * 10]
        assert cache.bytes_held == 30

    asyncio.run(scenario())


def test_a_redis_that_is_gone_is_a_miss_not_an_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        cache = RedisResponseCache(f"redis://127.0.0.1:{port}/0", 1 << 20)
        await cache.put("k", b"v", 60)
        assert await cache.get("k") is None
        await cache.aclose()

    asyncio.run(scenario())


def test_the_in_process_cache_stores_at_once_and_redis_never_does() -> None:
    local = LocalResponseCache(1 << 20)
    assert local.put_now("k", b"answer", 60) is True
    assert asyncio.run(local.get("k")) == b"answer"
    assert RedisResponseCache("redis://127.0.0.1:1/0", 1 << 20).put_now("k", b"answer", 60) is False
