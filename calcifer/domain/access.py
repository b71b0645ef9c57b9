"""Who is calling: the principal a request is served for.

Until keys are issued every caller is the anonymous principal; the keys issue adds virtual
keys, teams, budgets and limits here, and the pipeline's authenticate step resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANONYMOUS", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request is served and accounted for."""

    id: str
    """Stable id for logs and records; never a secret."""
    anonymous: bool = False


ANONYMOUS = Principal(id="anonymous", anonymous=True)
