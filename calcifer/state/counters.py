"""Which `Counters` a worker uses: Redis when configured (replicas), else the machine's shared
memory (several workers), else its own memory (one worker alone)."""

from __future__ import annotations

from calcifer.domain.ports import Counters, SpendSeed
from calcifer.state.counters_local import LocalCounters
from calcifer.state.counters_redis import RedisCounters
from calcifer.state.machine import MachineState

__all__ = ["build_counters"]


def build_counters(
    redis_url: str, machine: MachineState | None, seed: SpendSeed, lease_seconds: float
) -> Counters:
    """From `access.redis_url` and `access.hold_lease_seconds`. Call inside the worker's event
    loop (the Redis client binds its connections to it)."""
    if redis_url:
        return RedisCounters(redis_url, seed, lease_seconds)
    if machine is not None:
        return machine.counters(seed, lease_seconds)
    return LocalCounters(seed, lease_seconds)
