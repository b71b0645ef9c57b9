"""A key may use the response cache only when neither it nor its team forbids it."""

from __future__ import annotations

import pytest

from calcifer.domain.access import Team, VirtualKey
from calcifer.domain.key_directory import principal_of


@pytest.mark.parametrize(
    ("key_allows", "team_allows", "may_cache"),
    [
        (True, None, True),
        (False, None, False),
        (True, True, True),
        (True, False, False),
        (False, True, False),
    ],
)
def test_the_principal_may_cache_only_when_the_key_and_its_team_allow_it(
    key_allows: bool, team_allows: bool | None, may_cache: bool
) -> None:
    team = None if team_allows is None else Team(id="team_a", name="a", cache=team_allows)
    key = VirtualKey(id="key_a", key_hash="h", prefix="ck-a", team_id=team and team.id, cache=key_allows)
    assert principal_of(key, team).may_cache is may_cache
