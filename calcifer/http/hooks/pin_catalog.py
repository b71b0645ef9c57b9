"""A request is served to its end by the catalog it started on, even across a reload."""

from __future__ import annotations

from sanic import Request

from calcifer.http.scope import RequestScope
from calcifer.runtime.catalog_runtime import Runtime

__all__ = ["PinCatalog"]


class PinCatalog:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def enter(self, request: Request, scope: RequestScope) -> None:
        catalog = scope.catalog = self._runtime.current
        catalog.enter()

    def exit(self, scope: RequestScope) -> None:
        if scope.catalog is not None:
            scope.catalog.leave()
