"""State the workers of one machine share, in memory the manager process maps for them all.

Built once by the manager (`MachineState.create`, before the workers start) and handed to
each worker through Sanic's shared context, which passes it on when a worker is spawned:

- a table of circuit breakers by deployment identity, so an upstream that fails is avoided
  by every worker, not only by the one that saw it fail;
- a catalog generation number, raised by a worker that reloaded its catalog, so the others
  reload too.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
from collections.abc import MutableSequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any, cast

from loguru import logger

from calcifer.domain.breaker import LocalBreakerCell
from calcifer.domain.ports import WINDOW_BUCKETS, BreakerCell, BreakerFields

__all__ = ["MachineState", "SharedBreakerStore"]

BREAKER_SLOTS = 4096
"""Deployments a machine can track together; a catalog rarely has a hundred."""
_EMPTY = 0
_NEVER = -(1 << 62)
_START_METHOD = "spawn"  # Sanic's: a lock must come from the context that starts the workers


class _Slot(ctypes.Structure):
    _fields_ = [
        ("identity", ctypes.c_uint64),
        ("state", ctypes.c_int64),
        ("failures_in_row", ctypes.c_int64),
        ("opened_at", ctypes.c_double),
        ("trial_in_flight", ctypes.c_int64),
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

    def __init__(self, slots: MutableSequence[Any], lock: AbstractContextManager[object]) -> None:
        self._slots = slots
        self._lock = lock

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

    @classmethod
    def create(cls) -> MachineState:
        context = multiprocessing.get_context(_START_METHOD)
        return cls(
            breaker_slots=context.RawArray(_Slot, BREAKER_SLOTS),
            breaker_lock=context.Lock(),
            catalog_generation=context.Value(ctypes.c_int64, 0),
        )

    def put(self, shared_ctx: Any) -> None:
        shared_ctx.breaker_slots = self.breaker_slots
        shared_ctx.breaker_lock = self.breaker_lock
        shared_ctx.catalog_generation = self.catalog_generation

    @classmethod
    def taken_from(cls, shared_ctx: Any) -> MachineState | None:
        """What the manager shared, or None when this worker runs alone (one worker)."""
        slots = getattr(shared_ctx, "breaker_slots", None)
        if slots is None:
            return None
        return cls(slots, shared_ctx.breaker_lock, shared_ctx.catalog_generation)

    def breakers(self) -> SharedBreakerStore:
        return SharedBreakerStore(self.breaker_slots, self.breaker_lock)

    def generation(self) -> SharedGeneration:
        return SharedGeneration(self.catalog_generation)


class SharedGeneration:
    """A number every worker sees: raised on a reload, watched by the others."""

    def __init__(self, value: Synchronized[int]) -> None:
        self._value = value

    def current(self) -> int:
        return int(self._value.value)

    def advance(self) -> int:
        with self._value.get_lock():
            self._value.value += 1
            return int(self._value.value)
