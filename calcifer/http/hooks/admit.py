"""Rate limits and budget reservations: handed to the request here, applied by the serving
path once the request is parsed and routed (the estimate needs its model and its prompt),
in one all-or-nothing step; `settle` releases what was reserved, on every exit path."""

from __future__ import annotations

from sanic import Request

from calcifer.domain.admission import Admission
from calcifer.http.scope import RequestScope

__all__ = ["Admit"]


class Admit:
    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    async def enter(self, request: Request, scope: RequestScope) -> None:
        scope.admission = self._admission
