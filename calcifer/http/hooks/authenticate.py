"""Who is calling. Every caller is the anonymous principal until virtual keys exist (the
keys issue resolves `Authorization`/`x-api-key` here, once, for every dialect)."""

from __future__ import annotations

from sanic import Request

from calcifer.domain.access import ANONYMOUS
from calcifer.http.scope import RequestScope

__all__ = ["Authenticate"]


class Authenticate:
    async def enter(self, request: Request, scope: RequestScope) -> None:
        scope.principal = ANONYMOUS
