"""`Store`: keys, teams and the ledger over one database (SQLite or PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from calcifer.domain.access import AccessScope, Team, VirtualKey
from calcifer.domain.ports import (
    LedgerRecord,
    RequestPage,
    RequestQuery,
    SpendQuery,
    SpendReport,
    StatsQuery,
    StatsReport,
)
from calcifer.store.database import Database, Statement
from calcifer.store.keys import (
    KEY_COLUMNS,
    TEAM_COLUMNS,
    bump_revision,
    key_from_row,
    save_key_statement,
    save_team_statement,
    team_from_row,
)
from calcifer.store.ledger import (
    RECORD_COLUMNS,
    append_statement,
    encode_cursor,
    expire_statements,
    record_from_row,
    requests_statement,
)
from calcifer.store.spend import merge_spend, spend_statements, spent_statements, spent_total
from calcifer.store.stats import stats_report, stats_statements

__all__ = ["Store"]

_REVISION = Statement("SELECT revision FROM store_revision WHERE id = 1")
_KEY_HASHING = "key_hashing"


class Store:
    """Implements `KeyStore` and `LedgerStore`. Errors: `StoreUnavailable` when the database
    cannot be reached; `ValueError` for a change that conflicts with what is stored (a team
    name or key hash already taken, a team that still has keys)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._codec = database.codec

    @property
    def database(self) -> Database:
        """The connection it runs on, shared with the other records kept beside it (responses)."""
        return self._db

    @property
    def dialect(self) -> str:
        return self._codec.dialect

    async def aclose(self) -> None:
        await self._db.aclose()

    # --- keys and teams ------------------------------------------------------------------

    async def save_key(self, key: VirtualKey) -> None:
        await self._db.run([bump_revision(), save_key_statement(key, self._codec)])

    async def get_key(self, key_id: str) -> VirtualKey | None:
        keys = await self._keys("WHERE id = ?", (key_id,))
        return keys[0] if keys else None

    async def key_by_hash(self, key_hash: str) -> VirtualKey | None:
        keys = await self._keys("WHERE key_hash = ?", (key_hash,))
        return keys[0] if keys else None

    async def list_keys(self, team_id: str | None = None) -> list[VirtualKey]:
        if team_id is None:
            return await self._keys("ORDER BY created_at, id", ())
        return await self._keys("WHERE team_id = ? ORDER BY created_at, id", (team_id,))

    async def save_team(self, team: Team) -> None:
        await self._db.run([bump_revision(), save_team_statement(team, self._codec)])

    async def get_team(self, team_id: str) -> Team | None:
        teams = await self._teams("WHERE id = ?", (team_id,))
        return teams[0] if teams else None

    async def list_teams(self) -> list[Team]:
        return await self._teams("ORDER BY created_at, id", ())

    async def delete_team(self, team_id: str) -> bool:
        members = Statement("SELECT COUNT(*) FROM keys WHERE team_id = ?", (team_id,))
        deleted = Statement(
            "DELETE FROM teams WHERE id = ? AND NOT EXISTS (SELECT 1 FROM keys WHERE team_id = ?) "
            "RETURNING id",
            (team_id, team_id),
        )
        count, removed, _ = await self._db.run([members, deleted, bump_revision()])
        if removed.rows:
            return True
        if count.rows[0][0]:
            raise ValueError(f"team {team_id} still has {count.rows[0][0]} key(s)")
        return False

    async def hashing_secret(self) -> bytes:
        """The secret virtual keys are hashed with: made at random by whichever worker or
        replica asks first, the same for all of them afterwards."""
        candidate = secrets.token_hex(32)
        _, result = await self._db.run(
            [
                Statement(
                    "INSERT INTO gateway_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (_KEY_HASHING, candidate),
                ),
                Statement("SELECT value FROM gateway_secrets WHERE name = ?", (_KEY_HASHING,)),
            ]
        )
        return bytes.fromhex(str(result.rows[0][0]))

    async def revision(self) -> int:
        (result,) = await self._db.run([_REVISION], write=False)
        return int(result.rows[0][0])

    async def changed_since(self, revision: int) -> tuple[int, list[VirtualKey], list[Team]]:
        # Most polls find nothing new: one indexed single-row read answers them.
        if await self.revision() == revision:
            return revision, [], []
        # One snapshot: the revision read and the rows changed up to it agree.
        current, keys, teams = await self._db.run(
            [
                _REVISION,
                Statement(f"SELECT {KEY_COLUMNS} FROM keys WHERE revision > ?", (revision,)),
                Statement(f"SELECT {TEAM_COLUMNS} FROM teams WHERE revision > ?", (revision,)),
            ],
            write=False,
        )
        return (
            int(current.rows[0][0]),
            [key_from_row(row, self._codec) for row in keys.rows],
            [team_from_row(row, self._codec) for row in teams.rows],
        )

    async def _keys(self, condition: str, params: Sequence[object]) -> list[VirtualKey]:
        statement = Statement(f"SELECT {KEY_COLUMNS} FROM keys {condition}", params)
        (result,) = await self._db.run([statement], write=False)
        return [key_from_row(row, self._codec) for row in result.rows]

    async def _teams(self, condition: str, params: Sequence[object]) -> list[Team]:
        statement = Statement(f"SELECT {TEAM_COLUMNS} FROM teams {condition}", params)
        (result,) = await self._db.run([statement], write=False)
        return [team_from_row(row, self._codec) for row in result.rows]

    # --- the ledger ----------------------------------------------------------------------

    async def append(self, records: Sequence[LedgerRecord]) -> None:
        if records:
            await self._db.run([append_statement(records, self._codec)])

    async def spent(self, scope: AccessScope, since: datetime | None) -> Decimal:
        results = await self._db.run(spent_statements(scope, since, self._codec), write=False)
        return spent_total(results, self._codec)

    async def spend(self, query: SpendQuery) -> SpendReport:
        results = await self._db.run(spend_statements(query, self._codec), write=False)
        return merge_spend(query, results, self._codec)

    async def requests(self, query: RequestQuery) -> RequestPage:
        (result,) = await self._db.run([requests_statement(query, self._codec)], write=False)
        records = [record_from_row(row, self._codec) for row in result.rows]
        limit = max(1, query.limit)
        if len(records) <= limit:
            return RequestPage(records)
        return RequestPage(records[:limit], encode_cursor(records[limit - 1]))

    async def record(self, request_id: str) -> LedgerRecord | None:
        statement = Statement(f"SELECT {RECORD_COLUMNS} FROM ledger WHERE request_id = ?", (request_id,))
        (result,) = await self._db.run([statement], write=False)
        return record_from_row(result.rows[0], self._codec) if result.rows else None

    async def stats(self, query: StatsQuery) -> StatsReport:
        results = await self._db.run(stats_statements(query, self._codec), write=False)
        return stats_report(query, results, self._codec)

    async def expire(self, keep_days: int, now: datetime) -> int:
        _, statements = expire_statements(keep_days, now, self._codec)
        results = await self._db.run(statements)
        counted = results[-3]
        return int(counted.rows[0][0])
