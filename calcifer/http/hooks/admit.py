"""Whether the principal may spend now: rate limits and a budget reservation.

Admits every request until the keys issue gives principals limits and budgets; whatever
it reserves here is released by `settle`, on every exit path. It has no step to run yet,
so it costs nothing per request.
"""

from __future__ import annotations

__all__ = ["Admit"]


class Admit:
    pass
