"""The request's answer is complete: fix its times, so every later step reports the same ones.

The keys issue settles here what `admit` reserved (the ledger record and the budget
counters, with the request's final cost); it runs on every exit path.
"""

from __future__ import annotations

import time

from calcifer.http.scope import RequestScope

__all__ = ["Settle"]


class Settle:
    def exit(self, scope: RequestScope) -> None:
        scope.finished = time.perf_counter()
