"""Request metrics. The metrics issue fills this step (it reads the settled scope); it has
no step to run yet, so it costs nothing per request."""

from __future__ import annotations

__all__ = ["Metrics"]


class Metrics:
    pass
