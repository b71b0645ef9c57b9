"""Who a request comes from, given the key it presents (or none).

With keys required, a request must present a usable virtual key (or the master key, which
is served without budgets or limits, for operators); without, every caller is anonymous and
a key, if sent, is not looked at.
"""

from __future__ import annotations

import hmac

from calcifer.domain.access import ANONYMOUS, Principal
from calcifer.domain.key_directory import KeyDirectory
from calcifer.errors import InvalidApiKey

__all__ = ["MASTER", "Authenticator"]

MASTER = Principal(id="master")
"""The master key used on the API: an operator, served with no budget or limit."""


class Authenticator:
    def __init__(self, directory: KeyDirectory | None, master_key: str | None) -> None:
        """`directory` None: keys are not required (the gateway is open)."""
        self._directory = directory
        self._master_key = master_key.encode() if master_key else None

    @property
    def keys_required(self) -> bool:
        return self._directory is not None

    async def principal(self, token: str) -> Principal:
        if self._directory is None:
            return ANONYMOUS
        if not token:
            raise InvalidApiKey(
                "An API key is required: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
            )
        principal = await self._directory.authenticate(token)
        if principal is not None:
            return principal
        if self._master_key is not None and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self._master_key
        ):
            return MASTER
        raise InvalidApiKey("The API key is not valid (unknown, revoked or expired)")
