"""Who is calling: the virtual key in `Authorization: Bearer …` or `x-api-key` (the Anthropic
SDK's header), resolved once per request for every dialect. Admin routes check the master
key themselves."""

from __future__ import annotations

from sanic import Request

from calcifer.domain.authentication import Authenticator
from calcifer.http.scope import RequestScope

__all__ = ["Authenticate", "presented_key"]


def presented_key(request: Request) -> str:
    headers = request.headers
    authorization: str | None = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            return token.strip()
    api_key: str = headers.get("x-api-key", "")
    return api_key.strip()


class Authenticate:
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def enter(self, request: Request, scope: RequestScope) -> None:
        if scope.route.startswith("/admin/"):
            return
        scope.principal = await self._authenticator.principal(presented_key(request))
