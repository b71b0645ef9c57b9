"""Keys and teams on SQLite and PostgreSQL: stored whole, found by hash, and every change
visible through `changed_since` exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from calcifer.domain.access import Budget, BudgetPeriod, RateLimit, Team, VirtualKey
from calcifer.store import Store
from tests.store.conftest import run_with_store

NOW = datetime(2026, 12, 1, 12, 30, 15, 123456, tzinfo=UTC)


def a_key(key_id: str = "key_a", team_id: str | None = None, **changes: object) -> VirtualKey:
    fields: dict[str, object] = {
        "id": key_id,
        "key_hash": f"hash-{key_id}",
        "prefix": "ck-AbCd",
        "name": f"{key_id} name",
        "team_id": team_id,
        "created_at": NOW,
    }
    return VirtualKey(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_key_comes_back_exactly_as_saved(database_url: str) -> None:
    key = a_key(
        user="ana@example.com",
        budget=Budget(Decimal("10.000000125"), BudgetPeriod.MONTH),
        limits=RateLimit(60, 100_000, 4),
        models=("gpt-4o", "fast"),
        metadata={"owner": "search"},
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )

    async def scenario(store: Store) -> None:
        await store.save_key(key)
        assert await store.get_key("key_a") == key
        assert await store.key_by_hash("hash-key_a") == key
        assert await store.get_key("key_missing") is None
        assert await store.key_by_hash("nope") is None

    run_with_store(database_url, scenario)


def test_saving_a_key_again_replaces_it_and_two_keys_cannot_share_a_hash(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        await store.save_key(a_key())
        revoked = a_key(revoked_at=NOW, limits=RateLimit(requests_per_minute=5))
        await store.save_key(revoked)
        assert await store.get_key("key_a") == revoked
        with pytest.raises(ValueError):
            await store.save_key(a_key("key_b", key_hash="hash-key_a"))
        assert [key.id for key in await store.list_keys()] == ["key_a"]

    run_with_store(database_url, scenario)


def test_teams_are_stored_listed_and_keys_listed_by_team(database_url: str) -> None:
    budget = Budget(Decimal("100"), BudgetPeriod.DAY)
    team = Team("team_1", "search", budget, RateLimit(600), {"cc": "42"}, NOW)

    async def scenario(store: Store) -> None:
        await store.save_team(team)
        await store.save_team(Team("team_2", "ads", created_at=NOW))
        await store.save_key(a_key("key_a", "team_1"))
        await store.save_key(a_key("key_b", "team_2"))
        await store.save_key(a_key("key_c", "team_1"))
        assert await store.get_team("team_1") == team
        assert [t.id for t in await store.list_teams()] == ["team_1", "team_2"]
        assert [k.id for k in await store.list_keys("team_1")] == ["key_a", "key_c"]
        with pytest.raises(ValueError):
            await store.save_team(Team("team_3", "search"))

    run_with_store(database_url, scenario)


def test_a_team_with_keys_cannot_be_deleted(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        await store.save_team(Team("team_1", "search"))
        await store.save_key(a_key("key_a", "team_1"))
        with pytest.raises(ValueError, match="key"):
            await store.delete_team("team_1")
        assert await store.get_team("team_1") is not None
        await store.save_key(a_key("key_a", None))
        assert await store.delete_team("team_1") is True
        assert await store.get_team("team_1") is None
        assert await store.delete_team("team_1") is False

    run_with_store(database_url, scenario)


def test_changed_since_returns_exactly_what_changed_after_a_revision(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        start = await store.revision()
        await store.save_key(a_key("key_a"))
        await store.save_team(Team("team_1", "search"))
        middle, keys, teams = await store.changed_since(start)
        assert middle == await store.revision() > start
        assert [k.id for k in keys] == ["key_a"] and [t.id for t in teams] == ["team_1"]

        await store.save_key(a_key("key_b"))
        await store.save_key(a_key("key_a", revoked_at=NOW))
        latest, keys, teams = await store.changed_since(middle)
        assert latest > middle
        assert sorted(k.id for k in keys) == ["key_a", "key_b"] and teams == []
        assert next(k for k in keys if k.id == "key_a").revoked_at == NOW
        assert await store.changed_since(latest) == (latest, [], [])

    run_with_store(database_url, scenario)


def test_a_poller_misses_no_change_made_concurrently(database_url: str) -> None:
    """Changes committed in any order while a worker polls: following `changed_since` from
    revision to revision sees every key (revisions follow commit order)."""

    async def scenario(store: Store) -> None:
        seen: dict[str, VirtualKey] = {}
        done = asyncio.Event()

        async def poll() -> None:
            revision = await store.revision()
            while True:
                finished = done.is_set()
                revision, keys, _ = await store.changed_since(revision)
                seen.update((key.id, key) for key in keys)
                if finished:
                    return
                await asyncio.sleep(0)

        async def change(n: int) -> None:
            await store.save_key(a_key(f"key_{n:03d}"))
            await store.save_key(a_key(f"key_{n:03d}", name=f"renamed {n}"))

        poller = asyncio.create_task(poll())
        await asyncio.gather(*(change(n) for n in range(150)))
        done.set()
        await poller
        assert sorted(seen) == [f"key_{n:03d}" for n in range(150)]
        assert all(key.name.startswith("renamed") for key in seen.values())

    run_with_store(database_url, scenario)
