"""Counters shared by the workers of one machine: scope fields in a shared-memory table the
manager creates (`MachineState`), found by a hash of the counter id, under one bounded lock."""

from __future__ import annotations

import ctypes
import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, cast

from calcifer.domain.limits import LEASE_BUCKETS, WINDOW_SECONDS, ScopeFields
from calcifer.domain.ports import SpendSeed
from calcifer.errors import LimitsUnavailable
from calcifer.state.counters_local import TableCounters

__all__ = ["COUNTER_SLOTS", "CounterSlot", "MachineCounters", "SharedCounterTable"]

COUNTER_SLOTS = 4096
"""Keys and teams with a budget or limit that a machine counts at once (about 9 MB); a slot
idle for longer than a lease and a window is taken back for another scope when needed."""
_PROBES = 64
"""Slots looked at for one counter id before the table counts as full."""
_EMPTY = 0


class CounterSlot(ctypes.Structure):
    """One scope's fields (`calcifer.domain.limits.ScopeFields`) in shared memory."""

    _fields_ = [
        ("identity", ctypes.c_uint64),
        ("window_second", ctypes.c_int64),
        ("window_requests", ctypes.c_int64),
        ("window_tokens", ctypes.c_int64),
        ("lease_now", ctypes.c_int64),
        ("live_holds", ctypes.c_int64),
        ("live_nanos", ctypes.c_int64),
        ("period", ctypes.c_int64),
        ("spent_nanos", ctypes.c_int64),
        ("bucket_second", ctypes.c_int64 * WINDOW_SECONDS),
        ("bucket_requests", ctypes.c_int64 * WINDOW_SECONDS),
        ("bucket_tokens", ctypes.c_int64 * WINDOW_SECONDS),
        ("lease_number", ctypes.c_int64 * LEASE_BUCKETS),
        ("lease_holds", ctypes.c_int64 * LEASE_BUCKETS),
        ("lease_nanos", ctypes.c_int64 * LEASE_BUCKETS),
    ]


class SharedCounterTable:
    """Scope fields in the machine's table, open addressing by a 64-bit hash of the counter id."""

    def __init__(self, slots: Any, lock: AbstractContextManager[object], idle_seconds: float) -> None:
        self._slots = slots
        self.lock = lock
        self._idle_seconds = idle_seconds
        self._hashes: dict[str, int] = {}

    def fields(self, counter_id: str, now: float, *, claim: bool) -> ScopeFields | None:
        key = self._hash(counter_id)
        size = len(self._slots)
        reusable: CounterSlot | None = None
        for probe in range(min(_PROBES, size)):
            slot = self._slots[(key + probe) % size]
            if slot.identity == key:
                return cast(ScopeFields, slot)
            if reusable is None and (slot.identity == _EMPTY or self._idle(slot, now)):
                reusable = slot
            if slot.identity == _EMPTY:
                break  # the id would have been placed here or before
        if not claim:
            return None
        if reusable is None:
            raise LimitsUnavailable(
                "the machine's counter table is full (too many keys and teams in use at once)"
            )
        _claim(reusable, key, now)
        return cast(ScopeFields, reusable)

    def _idle(self, slot: CounterSlot, now: float) -> bool:
        """No request counted for a lease and a window: its holds have lapsed and its window is
        empty; only its spend is lost, which the next use reads again from the ledger."""
        return bool(now - slot.window_second > self._idle_seconds)

    def _hash(self, counter_id: str) -> int:
        key = self._hashes.get(counter_id)
        if key is None:
            digest = hashlib.blake2b(counter_id.encode(), digest_size=8).digest()
            key = self._hashes[counter_id] = int.from_bytes(digest, "big") or 1
        return key


def _claim(slot: CounterSlot, key: int, now: float) -> None:
    ctypes.memset(ctypes.addressof(slot), 0, ctypes.sizeof(slot))
    slot.identity = key
    slot.window_second = int(now)  # marks it in use (not idle) from now on
    for bucket in range(WINDOW_SECONDS):
        slot.bucket_second[bucket] = -1
    for bucket in range(LEASE_BUCKETS):
        slot.lease_number[bucket] = -1


class MachineCounters(TableCounters):
    """Counters shared by every worker of this machine (`MachineState.counters`)."""

    def __init__(
        self,
        slots: Any,
        lock: AbstractContextManager[object],
        seed: SpendSeed,
        lease_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        idle_seconds = lease_seconds + 2 * WINDOW_SECONDS + 1
        super().__init__(SharedCounterTable(slots, lock, idle_seconds), seed, lease_seconds, clock)
