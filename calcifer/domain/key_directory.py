"""Every virtual key and team a worker knows, kept in memory and refreshed from the store.

Authenticating a request is one HMAC and one dict lookup. Each worker asks the store what
changed since the revision it last saw (`refresh`, every `refresh_seconds`), so a revoked
key, a new budget or a new limit reaches every worker and replica within that interval. A
key not yet seen (created a moment ago elsewhere) is looked up in the store once; unknown
keys are remembered briefly, and only a few such look-ups run at once, so a flood of made-up
keys cannot hammer the database.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import OrderedDict

from calcifer.domain.access import AccessScope, Principal, ScopeKind, Team, VirtualKey
from calcifer.domain.keys import KEY_MARK, hash_key
from calcifer.domain.ports import KeyStore

__all__ = ["KeyDirectory", "principal_of"]

_MISSES_REMEMBERED = 10_000
_LOOKUPS_AT_ONCE = 4


def principal_of(key: VirtualKey, team: Team | None) -> Principal:
    scopes = [AccessScope(ScopeKind.KEY, key.id, key.budget, key.limits)]
    if team is not None:
        scopes.append(AccessScope(ScopeKind.TEAM, team.id, team.budget, team.limits))
    return Principal(
        id=key.id,
        key_id=key.id,
        key_prefix=key.prefix,
        team_id=key.team_id,
        user=key.user,
        scopes=tuple(scope for scope in scopes if scope.restricted),
        models=key.models,
        may_cache=key.cache and (team is None or team.cache),
    )


class _Entry:
    __slots__ = ("expires", "key", "principal")

    def __init__(self, key: VirtualKey, principal: Principal) -> None:
        self.key = key
        self.principal = principal
        self.expires = key.expires_at.timestamp() if key.expires_at else None


class KeyDirectory:
    def __init__(self, store: KeyStore, hashing_secret: bytes, miss_seconds: float = 1.0) -> None:
        self._store = store
        self._secret = hashing_secret
        self._miss_seconds = miss_seconds
        self._by_hash: dict[str, _Entry] = {}
        self._hash_of_id: dict[str, str] = {}
        self._teams: dict[str, Team] = {}
        self._revision = -1
        self._misses: OrderedDict[str, float] = OrderedDict()
        self._lookups = asyncio.Semaphore(_LOOKUPS_AT_ONCE)
        self.last_refresh: float | None = None
        """Monotonic time of the last successful refresh (health reports its age)."""

    @property
    def revision(self) -> int:
        return self._revision

    async def refresh(self) -> None:
        """Take every change since the last refresh; raises what the store raises."""
        revision, keys, teams = await self._store.changed_since(self._revision)
        for team in teams:
            self._teams[team.id] = team
        for key in keys:
            self._put(key)
        changed_teams = {team.id for team in teams}
        if changed_teams and self._revision >= 0:
            for entry in list(self._by_hash.values()):
                if entry.key.team_id in changed_teams:
                    self._put(entry.key)
        self._revision = revision
        self.last_refresh = time.monotonic()
        self._misses.clear()  # a key refused a moment ago may exist now

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a usable key, or None (unknown, revoked, expired, malformed)."""
        if not token.startswith(KEY_MARK):
            return None
        digest = hash_key(self._secret, token)
        entry = self._by_hash.get(digest) or await self._look_up(digest)
        if entry is None or not hmac.compare_digest(entry.key.key_hash, digest):
            return None
        if entry.key.revoked_at is not None or (entry.expires is not None and time.time() >= entry.expires):
            return None
        return entry.principal

    async def apply(self, key: VirtualKey) -> None:
        """Apply a change made by this worker at once (the admin API), before the next refresh."""
        await self._know_team(key.team_id)
        self._put(key)

    def apply_team(self, team: Team) -> None:
        """A team made or changed by this worker: its keys take its budget and limits at once."""
        self._teams[team.id] = team
        for entry in list(self._by_hash.values()):
            if entry.key.team_id == team.id:
                self._put(entry.key)

    async def _know_team(self, team_id: str | None) -> None:
        """A key's team must be known before the key is served, or its budget would be missed."""
        if team_id and team_id not in self._teams:
            team = await self._store.get_team(team_id)
            if team is not None:
                self._teams[team.id] = team

    def team(self, team_id: str) -> Team | None:
        return self._teams.get(team_id)

    def _put(self, key: VirtualKey) -> None:
        old_hash = self._hash_of_id.get(key.id)
        if old_hash is not None and old_hash != key.key_hash:
            self._by_hash.pop(old_hash, None)
        team = self._teams.get(key.team_id) if key.team_id else None
        self._by_hash[key.key_hash] = _Entry(key, principal_of(key, team))
        self._hash_of_id[key.id] = key.key_hash

    async def _look_up(self, digest: str) -> _Entry | None:
        now = time.monotonic()
        missed = self._misses.get(digest)
        if missed is not None and now - missed < self._miss_seconds:
            return None
        async with self._lookups:
            entry = self._by_hash.get(digest)  # another request may have found it meanwhile
            if entry is not None:
                return entry
            key = await self._store.key_by_hash(digest)
            if key is None:
                self._remember_miss(digest, now)
                return None
            await self._know_team(key.team_id)
            self._put(key)
            return self._by_hash[digest]

    def _remember_miss(self, digest: str, now: float) -> None:
        self._misses[digest] = now
        self._misses.move_to_end(digest)
        while len(self._misses) > _MISSES_REMEMBERED:
            self._misses.popitem(last=False)
