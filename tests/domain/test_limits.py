"""The window arithmetic of `calcifer.domain.limits`, against a brute-force count."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from calcifer.domain import limits
from calcifer.domain.access import AccessScope, RateLimit, ScopeKind
from calcifer.state.counters_local import _Fields


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=8, allow_nan=False), min_size=1, max_size=300),
    limit=st.integers(min_value=1, max_value=12),
)
def test_no_60_second_window_ever_holds_more_than_the_limit(gaps: list[float], limit: int) -> None:
    key = AccessScope(ScopeKind.KEY, "k", None, RateLimit(requests_per_minute=limit))
    now = 1_000_000.0
    fields = _Fields(now)
    admitted: list[float] = []
    for gap in gaps:
        now += gap
        if limits.check(fields, key, 0, 0, now, 0) is None:
            limits.reserve(fields, 0, 0, int(now), 1)
            admitted.append(now)
        else:  # refused only when the window really is full (conservative by one second at most)
            assert sum(1 for then in admitted if then > now - 61) >= limit
    for end in admitted:
        assert sum(1 for then in admitted if end - 60 <= then <= end) <= limit


def test_money_is_counted_in_nano_dollars_rounded_against_the_caller() -> None:
    assert limits.nanos_ceil(Decimal("0.0000000001")) == 1
    assert limits.nanos_ceil(Decimal("1.5")) == 1_500_000_000
    assert limits.nanos_floor(Decimal("0.0000000019")) == 1
