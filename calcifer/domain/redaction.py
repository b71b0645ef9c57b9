"""Known secrets kept out of upstream error text, which is also cut short, before it leaves.

An upstream's error message is passed on to the client, the upstream call's span and the
log. An upstream may echo what it was sent (an `Authorization` header, a proxy's
credentials), so every failure of an upstream call is cleaned where it is first reported:
`RedactingObserver`, fed once per catalog with the secrets that catalog and the process hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from calcifer.domain.observer import CallObserver, CallRecord, ForwardingRecord
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import CalciferError

__all__ = ["MAX_UPSTREAM_TEXT", "REDACTED", "RedactingObserver", "Redactor"]

MAX_UPSTREAM_TEXT = 1000
"""The most characters of an error message passed on (an upstream's text can be any size)."""
REDACTED = "[redacted]"
_SHORTEST_SECRET = 4
"""Shorter values would match ordinary words; nobody's key is that short."""


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        kept = sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, kept))) if kept else None

    def text(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if len(text) > MAX_UPSTREAM_TEXT:
            text = f"{text[:MAX_UPSTREAM_TEXT]}... ({len(text) - MAX_UPSTREAM_TEXT} more characters cut)"
        return text

    def clean(self, error: BaseException) -> None:
        """Clean a Calcifer error's message in place: the same error object is raised on."""
        if isinstance(error, CalciferError):
            cleaned = self.text(error.message)
            if cleaned != error.message:
                error.message = cleaned
                error.args = (cleaned,)


class RedactingObserver:
    """A `CallObserver` that cleans each failed call's error before `inner` (or anyone) sees it."""

    def __init__(self, inner: CallObserver, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def start(self, call: UpstreamCall) -> CallRecord:
        return _RedactingRecord(self._inner.start(call), self._redactor)


class _RedactingRecord(ForwardingRecord):
    __slots__ = ("_redactor",)

    def __init__(self, inner: CallRecord, redactor: Redactor) -> None:
        super().__init__(inner)
        self._redactor = redactor

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None:
        self._redactor.clean(error)
        super().failed(error, usage, cost)
