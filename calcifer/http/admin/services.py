"""What the admin API works with, set on `app.ctx.access` by the composition root."""

from __future__ import annotations

from typing import Protocol

from sanic import Request

from calcifer.domain.key_directory import KeyDirectory
from calcifer.domain.ports import Counters, KeyStore, LedgerStore
from calcifer.http.auth import require_admin

__all__ = ["AccessServices", "admin_services", "console_services"]


class AccessServices(Protocol):
    @property
    def key_store(self) -> KeyStore: ...

    @property
    def ledger_store(self) -> LedgerStore: ...

    @property
    def directory(self) -> KeyDirectory | None:
        """None when API keys are not required (the gateway runs open)."""

    @property
    def counters(self) -> Counters | None: ...

    @property
    def hashing_secret(self) -> bytes: ...


def admin_services(request: Request) -> AccessServices:
    """The services, once the caller has shown the master key (or a console session)."""
    require_admin(request)
    services: AccessServices = request.app.ctx.access
    return services


def console_services(request: Request) -> AccessServices:
    """The services for a console page, whose session `calcifer.http.console.guard` checked."""
    services: AccessServices = request.app.ctx.access
    return services
