"""Choosing a deployment for each attempt: healthy ones only, by the model's strategy."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import NamedTuple

from calcifer.domain.breaker import DEFAULT_BREAKER, Admission, BreakerSettings
from calcifer.domain.health import BreakerListener, DeploymentHealth, DeploymentState
from calcifer.domain.models import Deployment, ModelSpec

__all__ = ["Balancer", "DeploymentState", "Pick"]

_EXPLORE = 0.1
"""Share of lowest-latency picks sent to a random deployment, so a slow one that recovered is noticed."""


class Pick(NamedTuple):
    """The deployment an attempt goes to, and whether the attempt is its breaker's half-open
    trial (its outcome is then told to the breaker as the trial's)."""

    state: DeploymentState
    trial: bool
    first: bool = True
    """The request's first call to this deployment: only that one counts for its breaker."""

    @property
    def deployment(self) -> Deployment:
        return self.state.deployment


class Balancer:
    def __init__(
        self,
        models: Iterable[ModelSpec],
        breaker_settings: Callable[[str], BreakerSettings] = lambda provider_id: DEFAULT_BREAKER,
        on_breaker_change: BreakerListener | None = None,
        rng: random.Random | None = None,
        health: DeploymentHealth | None = None,
        identity: Callable[[Deployment], str] = lambda deployment: deployment.key,
    ) -> None:
        """`health` outlives this balancer (one per process); without one, the balancer has
        its own and `on_breaker_change` is told of its breakers' changes."""
        self._rng = rng or random.Random()
        health = health or DeploymentHealth(on_breaker_change=on_breaker_change)
        self._states: dict[str, DeploymentState] = {}
        models = list(models)
        for model in models:
            for deployment in model.deployments:
                if deployment.key not in self._states:
                    self._states[deployment.key] = health.state(
                        deployment, breaker_settings(deployment.provider_id), identity(deployment)
                    )
        self._by_model = {model.name: [self._states[d.key] for d in model.deployments] for model in models}

    def states(self, model: ModelSpec) -> list[DeploymentState]:
        return self._by_model[model.name]

    def all_states(self) -> list[DeploymentState]:
        return list(self._states.values())

    def pick(
        self,
        model: ModelSpec,
        tried: set[str],
        provider_hint: str | None = None,
        excluded: frozenset[str] = frozenset(),
    ) -> Pick | None:
        """A healthy deployment, an untried one when there is one; None when all are open.
        `excluded` deployments cannot serve this request at all and are never picked."""
        states = self._by_model[model.name]
        if len(states) == 1 and provider_hint is None and not excluded:  # most models: no choice
            return self._admit(states[0], tried)
        candidates = [
            s
            for s in states
            if (provider_hint is None or s.deployment.provider_id == provider_hint) and s.key not in excluded
        ]
        untried = [s for s in candidates if s.key not in tried]
        available = [s for s in (untried or candidates) if s.breaker.available()]
        while available:
            choice = self._choose(model.strategy, available)
            picked = self._admit(choice, tried)
            if picked is not None:
                return picked
            available.remove(choice)  # another request took its trial in the meantime
        return None

    @staticmethod
    def _admit(state: DeploymentState, tried: set[str]) -> Pick | None:
        admission = state.breaker.acquire()
        if not admission:
            return None
        return Pick(state, admission is Admission.TRIAL, state.key not in tried)

    def has_untried(self, model: ModelSpec, tried: set[str], excluded: frozenset[str] = frozenset()) -> bool:
        return any(
            s.key not in tried and s.key not in excluded and s.breaker.available() for s in self.states(model)
        )

    def cooldown(self, model: ModelSpec, excluded: frozenset[str] = frozenset()) -> float:
        """Seconds until the first of the model's open breakers lets a trial through."""
        return min(
            (s.breaker.cooldown_remaining() for s in self.states(model) if s.key not in excluded), default=0.0
        )

    def _choose(self, strategy: str, available: list[DeploymentState]) -> DeploymentState:
        if len(available) == 1:
            return available[0]
        if strategy == "least_inflight":
            fewest = min(s.in_flight for s in available)
            return self._rng.choice([s for s in available if s.in_flight == fewest])
        if strategy == "lowest_latency":
            unmeasured = [s for s in available if s.latency is None]
            if unmeasured:
                return self._rng.choice(unmeasured)
            if self._rng.random() < _EXPLORE:
                return self._rng.choice(available)
            return min(available, key=lambda s: s.latency or 0.0)
        weights = [s.deployment.weight for s in available]
        return self._rng.choices(available, weights=weights)[0]
