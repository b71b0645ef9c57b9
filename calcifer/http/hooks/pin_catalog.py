"""A request is served to its end by the catalog it started on, even across a reload."""

from __future__ import annotations

from collections.abc import Callable

from sanic import Request

from calcifer.http.scope import RequestScope, ServingCatalog

__all__ = ["PinCatalog"]


class PinCatalog:
    def __init__(self, current: Callable[[], ServingCatalog]) -> None:
        self._current = current

    async def enter(self, request: Request, scope: RequestScope) -> None:
        catalog = scope.catalog = self._current()
        catalog.enter()

    def exit(self, scope: RequestScope) -> None:
        if scope.catalog is not None:
            scope.catalog.leave()
