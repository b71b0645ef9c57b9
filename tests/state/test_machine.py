"""The breaker table and catalog version the workers of a machine share, across real processes."""

from __future__ import annotations

import multiprocessing

from calcifer.domain.breaker import BreakerSettings, BreakerState, CircuitBreaker
from calcifer.state.machine import BREAKER_SLOTS, MachineState

SETTINGS = BreakerSettings(consecutive_failures=2, cooldown_seconds=60)


def _fail_twice(machine: MachineState, identity: str) -> None:
    breaker = CircuitBreaker(SETTINGS, cell=machine.breakers().cell(identity))
    breaker.failed()
    breaker.failed()
    machine.catalog_signal().publish("v2")


def test_a_breaker_opened_in_another_process_is_open_here() -> None:
    machine = MachineState.create()
    here = CircuitBreaker(SETTINGS, cell=machine.breakers().cell("openai:gpt@a"))
    other = CircuitBreaker(SETTINGS, cell=machine.breakers().cell("openai:gpt@b"))
    worker = multiprocessing.get_context("spawn").Process(target=_fail_twice, args=(machine, "openai:gpt@a"))
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == 0
    assert here.state is BreakerState.OPEN and not here.available()
    assert other.state is BreakerState.CLOSED  # another identity, another cell
    assert (machine.catalog_signal().generation(), machine.catalog_signal().version()) == (1, "v2")


def test_the_same_identity_finds_the_same_cell_and_a_full_table_still_gives_a_breaker() -> None:
    machine = MachineState.create()
    store = machine.breakers()
    first = CircuitBreaker(SETTINGS, cell=store.cell("x"))
    first.failed()
    first.failed()
    assert CircuitBreaker(SETTINGS, cell=store.cell("x")).state is BreakerState.OPEN
    for number in range(BREAKER_SLOTS):
        store.cell(f"deployment-{number}")
    overflow = CircuitBreaker(SETTINGS, cell=store.cell("one too many"))
    overflow.failed()
    assert overflow.state is BreakerState.CLOSED  # tracked by this process alone, still working


def _take_the_lock_and_die(machine: MachineState) -> None:
    machine.breaker_lock.acquire()
    # ends without releasing it, as a worker killed in the middle of a breaker change would


def test_a_worker_that_dies_holding_the_lock_does_not_stop_the_others() -> None:
    machine = MachineState.create()
    breaker = CircuitBreaker(SETTINGS, cell=machine.breakers().cell("openai:gpt@a"))
    dying = multiprocessing.get_context("spawn").Process(target=_take_the_lock_and_die, args=(machine,))
    dying.start()
    dying.join(timeout=30)
    breaker.failed()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN  # went on without the lock, after a short wait
