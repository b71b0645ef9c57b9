"""State the workers of one machine share, in memory the manager process maps for them all.

Built once by the manager (`MachineState.create`, before the workers start) and handed to
each worker through Sanic's shared context, which passes it on when a worker is spawned:

- a table of circuit breakers by deployment identity, so an upstream that fails is avoided
  by every worker, not only by the one that saw it fail;
- the catalog version the workers should serve, with a generation number raised each time a
  worker publishes one, so the others reload when theirs differs;
- a table of counters by key and team (`calcifer.state.counters_machine`), so a limit of 60
  admits 60 on the machine, not 60 per worker.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import time
from collections.abc import Callable, MutableSequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any, cast

from loguru import logger

from calcifer.domain.breaker import LocalBreakerCell
from calcifer.domain.ports import WINDOW_BUCKETS, BreakerCell, BreakerFields, SpendSeed
from calcifer.state.counters_machine import COUNTER_SLOTS, CounterSlot, MachineCounters

__all__ = ["MachineState", "SharedBreakerStore", "SharedCatalogSignal"]

BREAKER_SLOTS = 4096
"""Deployments a machine can track together; a catalog rarely has a hundred."""
_EMPTY = 0
_NEVER = -(1 << 62)
_VERSION_BYTES = 64
_LOCK_WAIT_SECONDS = 0.1
_START_METHOD = "spawn"  # Sanic's: a lock must come from the context that starts the workers


class _Slot(ctypes.Structure):
    _fields_ = [
        ("identity", ctypes.c_uint64),
        ("state", ctypes.c_int64),
        ("failures_in_row", ctypes.c_int64),
        ("opened_at", ctypes.c_double),
        ("trial_in_flight", ctypes.c_int64),
        ("trial_started", ctypes.c_double),
        ("bucket_index", ctypes.c_int64 * WINDOW_BUCKETS),
        ("bucket_calls", ctypes.c_int64 * WINDOW_BUCKETS),
        ("bucket_failures", ctypes.c_int64 * WINDOW_BUCKETS),
    ]


@dataclass(frozen=True, slots=True)
class _SharedCell:
    fields: BreakerFields
    lock: AbstractContextManager[object]


class SharedBreakerStore:
    """Breaker cells in the machine's shared table, found by a 64-bit hash of the identity."""

    def __init__(self, slots: MutableSequence[Any], lock: Any) -> None:
        self._slots = slots
        self._lock = _BoundedLock(lock, "breaker")

    def cell(self, identity: str) -> BreakerCell:
        key = int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "big") or 1
        size = len(self._slots)
        with self._lock:
            for probe in range(size):
                slot = self._slots[(key + probe) % size]
                if slot.identity == key:
                    return _SharedCell(cast(BreakerFields, slot), self._lock)
                if slot.identity == _EMPTY:
                    _claim(slot, key)
                    return _SharedCell(cast(BreakerFields, slot), self._lock)
        logger.warning("breaker table full: deployment {} is tracked by this worker alone", identity)
        return LocalBreakerCell()


class _BoundedLock:
    """The table's lock, never waited on for long. It is held for microseconds, but a worker
    killed while holding it would otherwise stop every other worker's event loop at its next
    request; past the wait, this worker goes on without the lock (counts may then be off by a
    request or two, which a breaker tolerates, and a rate limit by as many) and says so once."""

    def __init__(self, lock: Any, what: str) -> None:
        self._lock = lock
        self._what = what
        self._held = False
        self._abandoned = False

    def __enter__(self) -> None:
        if self._abandoned:
            return
        if self._lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            self._held = True
            return
        self._abandoned = True
        logger.error(
            "the shared {} lock stayed taken (a worker died holding it?); going on without it", self._what
        )

    def __exit__(self, *exc: object) -> None:
        if self._held:
            self._held = False
            self._lock.release()


def _claim(slot: _Slot, key: int) -> None:
    slot.identity = key
    for bucket in range(WINDOW_BUCKETS):
        slot.bucket_index[bucket] = _NEVER


@dataclass(frozen=True, slots=True)
class MachineState:
    """The shared objects; each is of a kind Sanic's shared context passes to workers."""

    breaker_slots: Any
    breaker_lock: Any
    catalog_generation: Any
    catalog_version: Any
    counter_slots: Any
    counter_lock: Any

    @classmethod
    def create(cls) -> MachineState:
        context = multiprocessing.get_context(_START_METHOD)
        return cls(
            breaker_slots=context.RawArray(_Slot, BREAKER_SLOTS),
            breaker_lock=context.Lock(),
            catalog_generation=context.Value(ctypes.c_int64, 0),
            catalog_version=context.Array(ctypes.c_char, _VERSION_BYTES),
            counter_slots=context.RawArray(CounterSlot, COUNTER_SLOTS),
            counter_lock=context.Lock(),
        )

    def put(self, shared_ctx: Any) -> None:
        shared_ctx.breaker_slots = self.breaker_slots
        shared_ctx.breaker_lock = self.breaker_lock
        shared_ctx.catalog_generation = self.catalog_generation
        shared_ctx.catalog_version = self.catalog_version
        shared_ctx.counter_slots = self.counter_slots
        shared_ctx.counter_lock = self.counter_lock

    @classmethod
    def taken_from(cls, shared_ctx: Any) -> MachineState | None:
        """What the manager shared, or None when this worker runs alone (one worker)."""
        slots = getattr(shared_ctx, "breaker_slots", None)
        if slots is None:
            return None
        return cls(
            slots,
            shared_ctx.breaker_lock,
            shared_ctx.catalog_generation,
            shared_ctx.catalog_version,
            shared_ctx.counter_slots,
            shared_ctx.counter_lock,
        )

    def breakers(self) -> SharedBreakerStore:
        return SharedBreakerStore(self.breaker_slots, self.breaker_lock)

    def counters(
        self, seed: SpendSeed, lease_seconds: float, clock: Callable[[], float] = time.time
    ) -> MachineCounters:
        """Rate limits, parallel requests and budget holds shared by this machine's workers."""
        lock = _BoundedLock(self.counter_lock, "counter")
        return MachineCounters(self.counter_slots, lock, seed, lease_seconds, clock)

    def catalog_signal(self) -> SharedCatalogSignal:
        return SharedCatalogSignal(self.catalog_generation, self.catalog_version)


class SharedCatalogSignal:
    """The catalog version every worker should serve, and a generation number raised each time
    one is published (so a worker notices with one integer read)."""

    def __init__(self, generation: Synchronized[int], version: Any) -> None:
        self._generation = generation
        self._version = version

    def generation(self) -> int:
        return int(self._generation.value)

    def version(self) -> str:
        with self._generation.get_lock():
            return bytes(self._version.value).decode()

    def publish(self, version: str) -> int:
        with self._generation.get_lock():
            self._version.value = version.encode()[: _VERSION_BYTES - 1]
            self._generation.value += 1
            return int(self._generation.value)
