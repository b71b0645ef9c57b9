"""A model's lifecycle: deprecated models are served with a notice, retired ones refused (or sent
to their replacement when the operator opts in)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime

from loguru import logger

from calcifer.domain.models import ModelSpec
from calcifer.errors import ModelRetired

__all__ = ["Lifecycle", "lifecycle_headers"]

_NOTICE_SECONDS = 3600.0


class Lifecycle:
    """Applies `deprecated_on` / `retires_on` / `replacement` to the model a request names."""

    def __init__(
        self,
        route_retired_to_replacement: bool = False,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._route_retired = route_retired_to_replacement
        self._today = today
        self._clock = clock
        self._noticed: dict[str, float] = {}
        """When each deprecated model's last log line was written (one an hour per model)."""

    def serving(self, model: ModelSpec, lookup: Callable[[str], ModelSpec | None]) -> ModelSpec:
        """The model that serves a request for `model`: itself, or (once it has retired, and the
        operator routes retired models on) its replacement, followed as long as that has retired
        too; else `ModelRetired` naming the replacement."""
        today, asked, seen = self._today(), model, {model.name}
        while model.retires_on is not None and today >= model.retires_on:
            successor = lookup(model.replacement) if self._route_retired and model.replacement else None
            if successor is None or successor.name in seen:
                raise ModelRetired(asked.name, asked.retires_on or today, asked.replacement)
            model = successor
            seen.add(model.name)
        if model.deprecated_on is not None and today >= model.deprecated_on:
            self._notice(model)
        return model

    def _notice(self, model: ModelSpec) -> None:
        now = self._clock()
        last = self._noticed.get(model.name)
        if last is not None and now - last < _NOTICE_SECONDS:
            return
        self._noticed[model.name] = now
        retires = f", retires on {model.retires_on.isoformat()}" if model.retires_on else ""
        instead = f"; use '{model.replacement}'" if model.replacement else ""
        logger.warning(
            "model '{}' is deprecated since {}{}{}", model.name, model.deprecated_on, retires, instead
        )


def lifecycle_headers(model: ModelSpec, today: date) -> dict[str, str]:
    """`Deprecation` (RFC 9745: `@` epoch seconds) once the model is deprecated, `Sunset`
    (RFC 8594: the HTTP date it retires) and a `Link` to its replacement."""
    if model.deprecated_on is None or today < model.deprecated_on:
        return {}
    since = datetime(model.deprecated_on.year, model.deprecated_on.month, model.deprecated_on.day, tzinfo=UTC)
    headers = {"Deprecation": f"@{int(since.timestamp())}"}
    if model.retires_on is not None:
        sunset = datetime(model.retires_on.year, model.retires_on.month, model.retires_on.day, tzinfo=UTC)
        headers["Sunset"] = format_datetime(sunset, usegmt=True)
    if model.replacement is not None:
        headers["Link"] = f'</v1/models/{model.replacement}>; rel="successor-version"'
    return headers
