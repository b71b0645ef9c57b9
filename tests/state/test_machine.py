"""The breaker table and catalog version the workers of a machine share, across real processes."""

from __future__ import annotations

import multiprocessing
import sys

from calcifer.domain.breaker import Admission, BreakerSettings, BreakerState, CircuitBreaker
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


def _take_the_trial_and_die(machine: MachineState, identity: str, now: float) -> None:
    breaker = CircuitBreaker(SETTINGS, clock=lambda: now, cell=machine.breakers().cell(identity))
    sys.exit(0 if breaker.acquire() is Admission.TRIAL else 1)
    # ends without a verdict, as a worker killed during its trial would


def test_one_trial_for_all_workers_given_back_only_by_its_holder_and_given_up_after_a_cooldown() -> None:
    machine = MachineState.create()
    now = [0.0]
    here = CircuitBreaker(SETTINGS, clock=lambda: now[0], cell=machine.breakers().cell("openai:gpt@a"))
    here.failed()
    here.failed()
    now[0] = 60.0
    other = multiprocessing.get_context("spawn").Process(
        target=_take_the_trial_and_die, args=(machine, "openai:gpt@a", 60.0)
    )
    other.start()
    other.join(timeout=30)
    assert other.exitcode == 0  # the other worker took the trial
    assert not here.acquire()  # so this one may not send a second
    here.succeeded()  # a call sent before the breaker opened
    here.release()
    assert here.state is BreakerState.HALF_OPEN and not here.acquire()
    now[0] = 120.0  # the trial had a whole cooldown to answer: given up
    assert here.acquire() is Admission.TRIAL
    here.succeeded(trial=True)
    assert here.state is BreakerState.CLOSED
