"""Counters shared for real: two OS processes on one machine table, two Redis clients, and a
Redis that stops and comes back."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from calcifer.domain.access import AccessScope
from calcifer.errors import KeyRateLimited, LimitsUnavailable
from calcifer.state.counters import build_counters
from calcifer.state.counters_local import LocalCounters
from calcifer.state.counters_machine import CounterSlot, MachineCounters
from calcifer.state.counters_redis import SOCKET_TIMEOUT_SECONDS, RedisCounters
from calcifer.state.machine import MachineState
from tests.servers.redis_server import RedisServer
from tests.state.counters_rig import Backend, Clock, Ledger, demand, scope

_SPAWN = multiprocessing.get_context("spawn")


def _admit_many(machine: MachineState, key: AccessScope, start: Any, admitted: Any) -> None:
    """A worker process: 50 admissions at once, once both workers are ready."""

    async def admit_all() -> int:
        counters = machine.counters(Ledger(), 900.0)
        outcomes = await asyncio.gather(
            *(counters.admit(f"r{n}", [demand(key)]) for n in range(50)), return_exceptions=True
        )
        return sum(1 for outcome in outcomes if not isinstance(outcome, Exception))

    start.wait(30)
    with admitted.get_lock():
        admitted.value += asyncio.run(admit_all())


def test_two_processes_sharing_a_machine_table_admit_exactly_the_limit() -> None:
    machine, key = MachineState.create(), scope(rpm=60)
    start, admitted = _SPAWN.Event(), _SPAWN.Value(ctypes.c_int64, 0)
    workers = [_SPAWN.Process(target=_admit_many, args=(machine, key, start, admitted)) for _ in range(2)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert admitted.value == 60


def test_two_redis_clients_admit_exactly_the_limit_between_them(redis_url: str) -> None:
    async def scenario() -> None:
        clients = [RedisCounters(redis_url, Ledger()), RedisCounters(redis_url, Ledger())]
        key = scope(rpm=60)
        admissions = (clients[n % 2].admit(f"r{n}", [demand(key)]) for n in range(100))
        outcomes = await asyncio.gather(*admissions, return_exceptions=True)
        others = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, KeyRateLimited)]
        assert others == []  # no call may fail for another reason (a timeout, an exhausted pool)
        assert sum(1 for outcome in outcomes if isinstance(outcome, KeyRateLimited)) == 40
        for client in clients:
            await client.aclose()

    asyncio.run(scenario())


def test_a_stopped_redis_refuses_promptly_and_a_restarted_one_is_used_again(
    redis_server: RedisServer, redis_url: str
) -> None:
    async def scenario() -> None:
        counters, key = RedisCounters(redis_url, Ledger()), scope(rpm=100, parallel=1)
        await counters.admit("r1", [demand(key)])  # connected, script loaded
        redis_server.stop(immediate=True)
        try:
            started = time.monotonic()
            with pytest.raises(LimitsUnavailable):
                await counters.admit("r2", [demand(key)])
            assert time.monotonic() - started < 0.5
        finally:
            redis_server.start()
        fresh = scope(rpm=100)  # its scripts are gone with the restart: loaded again
        hold = await counters.admit("r3", [demand(fresh)])
        await counters.settle(hold, Decimal(0), 0)
        await counters.aclose()

    asyncio.run(scenario())


def test_a_settlement_redis_missed_is_retried_in_the_background(
    redis_server: RedisServer, redis_url: str
) -> None:
    async def scenario() -> None:
        counters, key = RedisCounters(redis_url, Ledger()), scope(parallel=1, budget="1.00")
        hold = await counters.admit("r1", [demand(key, "0.50")])
        redis_server.stop()
        try:
            await counters.settle(hold, Decimal("0.20"), 0)  # does not raise into the request
        finally:
            redis_server.start()
        await _eventually(lambda: counters.admit("r2", [demand(key, "0.50")]))  # r1's slot given back
        assert (await counters.usage(key)).spent_usd == Decimal("0.20")
        await counters.aclose()

    asyncio.run(scenario())


async def _eventually(attempt: Callable[[], Awaitable[object]], within: float = 6.0) -> None:
    """The background retries come 0.2, 1 and 3 s apart: wait for one of them to land."""
    deadline = time.monotonic() + within
    while True:
        try:
            await attempt()
            return
        except KeyRateLimited:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def test_a_scope_without_limits_never_calls_redis() -> None:
    async def scenario() -> None:
        counters = RedisCounters("redis://127.0.0.1:9/0", Ledger())  # nothing listens there
        hold = await counters.admit("r1", [demand(scope(), "1.00", 100)])
        await counters.settle(hold, Decimal(1), 100)
        with pytest.raises(LimitsUnavailable):
            await counters.admit("r2", [demand(scope(rpm=5))])
        await counters.aclose()

    asyncio.run(scenario())


def test_a_full_machine_table_refuses_until_a_slot_has_been_idle_long_enough() -> None:
    async def scenario() -> None:
        clock = Clock()
        slots, lock = _SPAWN.RawArray(CounterSlot, 2), _SPAWN.Lock()
        counters = MachineCounters(slots, lock, Ledger(), lease_seconds=60, clock=clock)
        first, second, third = scope(rpm=5), scope(rpm=5), scope(rpm=5)
        await counters.admit("r1", [demand(first)])
        await counters.admit("r2", [demand(second)])
        with pytest.raises(LimitsUnavailable):
            await counters.admit("r3", [demand(third)])
        clock.now += 60 + 2 * 61 + 2
        await counters.admit("r3", [demand(third)])  # took back an idle slot

    Backend("local").run(scenario)


def test_the_counters_a_worker_uses_follow_the_settings(redis_url: str) -> None:
    async def scenario() -> None:
        seed, machine = Ledger(), MachineState.create()
        chosen = [
            build_counters(redis_url, machine, seed, 900.0),
            build_counters("", machine, seed, 900.0),
            build_counters("", None, seed, 900.0),
        ]
        assert [type(counters) for counters in chosen] == [RedisCounters, MachineCounters, LocalCounters]
        for counters in chosen:
            await counters.aclose()

    asyncio.run(scenario())


def test_a_redis_that_accepts_but_never_answers_is_given_up_on_promptly() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections are accepted by the kernel, and never answered

        async def scenario() -> None:
            counters = RedisCounters(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", Ledger())
            started = time.monotonic()
            with pytest.raises(LimitsUnavailable):
                await counters.admit("r1", [demand(scope(rpm=5))])
            assert time.monotonic() - started < SOCKET_TIMEOUT_SECONDS + 0.5
            await counters.aclose()

        asyncio.run(scenario())


def test_more_admissions_at_once_than_pooled_connections_wait_for_one_rather_than_fail(
    redis_url: str,
) -> None:
    """At c=64 a gateway has an admission and a settlement in flight per request: more calls at
    once than a pool's connections must queue for one, never be answered `limits_unavailable`."""

    async def scenario() -> None:
        counters, key = RedisCounters(redis_url, Ledger()), scope(rpm=10_000)
        outcomes = await asyncio.gather(
            *(counters.admit(f"r{n}", [demand(key)]) for n in range(400)), return_exceptions=True
        )
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        await counters.aclose()

    asyncio.run(scenario())
