"""Every error Calcifer raises on purpose, in one tree.

    CalciferError
    ├── ConfigurationError            bad config.yaml or environment; stops the boot
    │   └── CatalogError              bad catalog; carries one `Problem` per line
    ├── AdminDenied                   the admin API was called without the master key
    │   └── AdminDisabled             the admin API is off (no master key configured)
    ├── RequestError                  the client's request cannot be served as sent
    │   ├── InvalidRequest            malformed JSON, wrong types, missing fields
    │   ├── UnsupportedFeature        the chosen provider cannot serve a parameter of the request
    │   ├── ModelNotFound             no model or alias of that name
    │   ├── ModelRetired              the model is past its `retires_on` day; names the replacement (410)
    │   ├── ProviderMismatch          X-Provider names a provider that does not serve the model
    │   ├── PayloadTooLarge           body over the configured limit
    │   ├── UnsupportedMediaType      the body is not declared JSON (Content-Type)
    │   ├── ResourceNotFound          the admin API has no key, team... with this id (404)
    │   └── Conflict                  the admin change conflicts with what exists (409)
    ├── AccessDenied                  the caller may not be served (virtual keys, budgets, limits)
    │   ├── InvalidApiKey             no key, or a key that is unknown, revoked or expired (401)
    │   ├── ModelNotAllowed           the key may not call this model (403)
    │   ├── BudgetExceeded            a key's or team's budget is spent (402); names which, and when it resets
    │   └── KeyRateLimited            a key's or team's rate limit is reached (429, Retry-After)
    ├── LimitsUnavailable             the counters or the key store cannot be reached (fail closed: 503)
    ├── StoreUnavailable              the database (keys, teams, ledger) cannot be reached (503)
    ├── ProviderNotConfigured         the provider's credential is missing on this gateway
    ├── ServerShuttingDown            the worker is stopping and ended the request
    └── UpstreamError                 the provider failed; `provider` names it
        ├── UpstreamRejected          the provider refused the request itself (400/404/422...)
        │   └── ContextWindowExceeded the prompt does not fit the model's context window
        ├── UpstreamRateLimited       429, with the provider's Retry-After when it sent one
        ├── UpstreamAuthFailed        the gateway's own credential was refused
        ├── UpstreamUnavailable       5xx, refused or dropped connection
        ├── UpstreamTimeout           no answer in time
        ├── UpstreamBusy              no free connection to the provider in time (our own cap)
        ├── UpstreamProtocolError     the provider answered with something we cannot read
        └── DeploymentsUnavailable    every deployment's circuit breaker is open

Vendor SDK exceptions never travel above the provider adapters: each adapter translates
them into this tree (`raise ... from exc`). The HTTP layer maps the tree to responses
in exactly one table (`calcifer.http.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = [
    "AccessDenied",
    "AdminDenied",
    "AdminDisabled",
    "BudgetExceeded",
    "CalciferError",
    "CatalogError",
    "ConfigurationError",
    "Conflict",
    "ContextWindowExceeded",
    "DeploymentsUnavailable",
    "InvalidApiKey",
    "InvalidRequest",
    "KeyRateLimited",
    "LimitsUnavailable",
    "ModelNotAllowed",
    "ModelNotFound",
    "ModelRetired",
    "PayloadTooLarge",
    "Problem",
    "ProviderMismatch",
    "ProviderNotConfigured",
    "RequestError",
    "ResourceNotFound",
    "ServerShuttingDown",
    "StoreUnavailable",
    "UnsupportedFeature",
    "UnsupportedMediaType",
    "UpstreamAuthFailed",
    "UpstreamBusy",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class CalciferError(Exception):
    """Base of every deliberate Calcifer error; `message` is safe to show a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(CalciferError):
    """The gateway cannot start with this configuration."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One catalog problem, located in its source file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


class CatalogError(ConfigurationError):
    """The catalog is invalid; every problem found is listed, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


class AdminDenied(CalciferError):
    """The admin API needs the master key."""


class AdminDisabled(AdminDenied):
    """No master key is configured, so the admin API is off."""


class RequestError(CalciferError):
    """The client's request cannot be served as sent."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class InvalidRequest(RequestError):
    """Malformed JSON, a wrong type, a missing or out-of-range field."""


class UnsupportedFeature(RequestError):
    """The provider serving the model cannot serve a parameter (or value) of the request;
    `param` names it."""


class ModelNotFound(RequestError):
    """No model or alias has this name."""

    def __init__(self, model: str) -> None:
        super().__init__(f"The model '{model}' does not exist", param="model")
        self.model = model


class ModelRetired(RequestError):
    """The provider no longer serves this model (its `retires_on` day has come)."""

    def __init__(self, model: str, retired_on: date, replacement: str | None) -> None:
        instead = f"; use '{replacement}' instead" if replacement else ""
        super().__init__(
            f"The model '{model}' was retired on {retired_on.isoformat()}{instead}", param="model"
        )
        self.model, self.replacement = model, replacement


class ProviderMismatch(RequestError):
    """The X-Provider header names a provider that does not serve the model."""


class PayloadTooLarge(RequestError):
    """The request body is over the configured limit."""


class UnsupportedMediaType(RequestError):
    """The body is not declared as JSON. Browsers send text/plain and form bodies to any
    origin without a CORS pre-flight; refusing them keeps web pages off the provider keys."""


class AccessDenied(CalciferError):
    """The caller may not be served as it stands; `scope` names the key or team concerned."""

    def __init__(self, message: str, *, scope: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope


class InvalidApiKey(AccessDenied):
    """No virtual key was sent, or it is unknown, revoked or expired."""


class ModelNotAllowed(AccessDenied):
    """The key's allowed models do not include the one asked for."""


class BudgetExceeded(AccessDenied):
    """A budget that applies is spent; `resets_at` is when its period starts again (None: never)."""

    def __init__(self, message: str, *, scope: str, resets_at: str | None) -> None:
        super().__init__(message, scope=scope)
        self.resets_at = resets_at


class KeyRateLimited(AccessDenied):
    """A key's or team's own rate limit (not the provider's) is reached."""

    def __init__(self, message: str, *, scope: str, retry_after: float) -> None:
        super().__init__(message, scope=scope)
        self.retry_after = retry_after


class LimitsUnavailable(CalciferError):
    """Budgets and limits cannot be checked (counters or key store unreachable) and the
    gateway is set to fail closed."""


class StoreUnavailable(CalciferError):
    """The database holding keys, teams and the ledger cannot be reached (`calcifer.store`
    translates the driver's errors into this one)."""


class ResourceNotFound(RequestError):
    """No key, team or other admin resource has this id."""


class Conflict(RequestError):
    """The change cannot be made as things stand (a team that still has keys, a duplicate name)."""


class ProviderNotConfigured(CalciferError):
    """The provider has no credential on this gateway, so its models cannot be served."""


class ServerShuttingDown(CalciferError):
    """The worker is stopping; its grace period for in-flight requests is over."""


class UpstreamError(CalciferError):
    """The provider failed to serve the request."""

    def __init__(self, message: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.upstream_status = status


class UpstreamRejected(UpstreamError):
    """The provider refused the request because of its content; the client can fix it."""


class UpstreamRateLimited(UpstreamError):
    """The provider is rate limiting us; `retry_after` is in seconds when known."""

    def __init__(self, message: str, *, provider: str, retry_after: float | None) -> None:
        super().__init__(message, provider=provider, status=429)
        self.retry_after = retry_after


class UpstreamAuthFailed(UpstreamError):
    """The provider refused the gateway's credential; the client is not to blame."""


class UpstreamUnavailable(UpstreamError):
    """The provider answered 5xx, refused the connection or dropped it."""


class UpstreamTimeout(UpstreamError):
    """The provider did not answer in time."""


class UpstreamBusy(UpstreamError):
    """Every connection the gateway may open to the provider (`max_connections`) stayed busy
    for as long as the request could wait: the gateway's own limit, not the provider failing."""


class UpstreamProtocolError(UpstreamError):
    """The provider answered with something that is not its documented wire format."""


class ContextWindowExceeded(UpstreamRejected):
    """The provider says the prompt is longer than the model's context window."""


class DeploymentsUnavailable(UpstreamError):
    """Every deployment of the model is failing; `retry_after` is when one may be tried again."""

    def __init__(self, message: str, *, provider: str, retry_after: float) -> None:
        super().__init__(message, provider=provider, status=503)
        self.retry_after = retry_after
