"""What the gateway knows of each deployment's health, kept for the life of the process.

A catalog reload builds a new router and balancer, but a deployment that is still in the
catalog keeps its circuit breaker, latency estimate and in-flight count: a price edit must
not forget that an upstream is failing, nor how fast the others answer. A deployment is
known by its identity (provider, upstream model and endpoint), so pointing a provider at
another endpoint starts its deployments afresh.
"""

from __future__ import annotations

from collections.abc import Callable

from calcifer.domain.breaker import (
    DEFAULT_BREAKER,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    LocalBreakerCell,
)
from calcifer.domain.models import Deployment
from calcifer.domain.ports import BreakerCell, BreakerStore

__all__ = ["DeploymentHealth", "DeploymentState", "LocalBreakerStore"]

_EWMA_WEIGHT = 0.3

BreakerListener = Callable[[Deployment, BreakerState, BreakerState], None]


class DeploymentState:
    """What the gateway currently knows of one deployment."""

    def __init__(self, deployment: Deployment, breaker: CircuitBreaker) -> None:
        self.deployment = deployment
        self.breaker = breaker
        self.in_flight = 0
        """Requests this worker has at the deployment now."""
        self.latency: float | None = None
        """EWMA of the time to first byte (whole answer, for non-streamed calls), in seconds."""

    @property
    def key(self) -> str:
        return self.deployment.key

    def observe_latency(self, seconds: float) -> None:
        self.latency = (
            seconds if self.latency is None else (_EWMA_WEIGHT * seconds + (1 - _EWMA_WEIGHT) * self.latency)
        )

    def snapshot(self) -> dict[str, object]:
        return {
            "provider": self.deployment.provider_id,
            "upstream_model": self.deployment.upstream_model,
            "weight": self.deployment.weight,
            "breaker": str(self.breaker.state),
            "cooldown_remaining_s": round(self.breaker.cooldown_remaining(), 3),
            "in_flight": self.in_flight,
            "latency_ewma_ms": None if self.latency is None else round(self.latency * 1000, 2),
        }


class LocalBreakerStore:
    """Breaker cells in this process only: right for a single worker."""

    def cell(self, identity: str) -> BreakerCell:
        return LocalBreakerCell()


class DeploymentHealth:
    """Deployment states by identity, created on first use and kept across catalogs."""

    def __init__(
        self, store: BreakerStore | None = None, on_breaker_change: BreakerListener | None = None
    ) -> None:
        self._store: BreakerStore = store or LocalBreakerStore()
        self._on_change = on_breaker_change
        self._states: dict[str, DeploymentState] = {}

    def state(
        self, deployment: Deployment, settings: BreakerSettings = DEFAULT_BREAKER, identity: str | None = None
    ) -> DeploymentState:
        """The state of `deployment`; its breaker takes the (possibly reloaded) `settings`."""
        identity = identity or deployment.key
        state = self._states.get(identity)
        if state is None:
            breaker = CircuitBreaker(
                settings, on_change=self._listener(deployment), cell=self._store.cell(identity)
            )
            state = self._states[identity] = DeploymentState(deployment, breaker)
        else:
            state.deployment = deployment  # its weight may have changed
            state.breaker.settings = settings
        return state

    def keep_only(self, identities: set[str]) -> None:
        """Forget deployments no catalog serves any more (requests still running keep theirs)."""
        for identity in set(self._states) - identities:
            del self._states[identity]

    def _listener(self, deployment: Deployment) -> Callable[[BreakerState, BreakerState], None] | None:
        callback = self._on_change
        if callback is None:
            return None
        return lambda old, new: callback(deployment, old, new)
