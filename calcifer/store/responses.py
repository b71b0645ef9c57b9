"""`ResponseRecords`: stored Responses API state (`previous_response_id`), in the same
database as keys and the ledger, so that any worker or replica can continue a conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from calcifer.domain.ports import StoredResponse
from calcifer.store.database import Database, Statement

__all__ = ["ResponseRecords"]

_COLUMNS = "id, owner, created_at, input_items, response"


class ResponseRecords:
    """Implements `ResponseStore`. A save replaces a response of the same id; one older than
    `keep_days` (0: no limit) is not found, even before retention has deleted it."""

    def __init__(self, database: Database, keep_days: int = 0) -> None:
        self._db = database
        self._codec = database.codec
        self._keep_days = keep_days

    async def save_response(self, stored: StoredResponse) -> None:
        params = (
            stored.id,
            stored.owner,
            self._codec.time_in(stored.created_at),
            _encode(stored.input_items),
            _encode(stored.response),
        )
        sql = (
            f"INSERT INTO responses ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "owner = excluded.owner, created_at = excluded.created_at, "
            "input_items = excluded.input_items, response = excluded.response"
        )
        await self._db.run([Statement(sql, params)])

    async def load_response(self, response_id: str) -> StoredResponse | None:
        statement = Statement(f"SELECT {_COLUMNS} FROM responses WHERE id = ?", (response_id,))
        (result,) = await self._db.run([statement], write=False)
        if not result.rows:
            return None
        found, owner, created, items, response = result.rows[0]
        created_at = self._codec.time_out(created)
        assert created_at is not None
        if self._keep_days and created_at < datetime.now(UTC) - timedelta(days=self._keep_days):
            return None
        return StoredResponse(found, owner, created_at, orjson.loads(items), orjson.loads(response))

    async def delete_response(self, response_id: str) -> bool:
        (result,) = await self._db.run(
            [Statement("DELETE FROM responses WHERE id = ? RETURNING id", (response_id,))]
        )
        return bool(result.rows)

    async def expire(self, keep_days: int, now: datetime) -> int:
        before = self._codec.time_in(now.astimezone(UTC) - timedelta(days=keep_days))
        (result,) = await self._db.run(
            [Statement("DELETE FROM responses WHERE created_at < ? RETURNING id", (before,))]
        )
        return len(result.rows)


def _encode(value: Any) -> str:
    return orjson.dumps(value, default=_exact_money).decode()


def _exact_money(value: object) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())  # usage.cost, written as the exact number
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
