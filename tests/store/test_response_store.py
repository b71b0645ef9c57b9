"""Stored responses: saved, found, replaced, deleted and expired, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from calcifer.domain.ports import StoredResponse
from calcifer.store import ResponseRecords, Retention, Store
from tests.store.conftest import run_with_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _stored(response_id: str, created_at: datetime = NOW) -> StoredResponse:
    response = {"id": response_id, "output": [{"type": "message"}], "usage": {"cost": Decimal("0.000123")}}
    return StoredResponse(response_id, "key_1", created_at, [{"role": "user", "content": "hi"}], response)


def test_a_response_is_found_as_saved_until_deleted(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        records = ResponseRecords(store.database)
        await records.save_response(_stored("resp_1"))
        found = await records.load_response("resp_1")
        assert found is not None and found.owner == "key_1" and found.created_at == NOW
        assert found.input_items == [{"role": "user", "content": "hi"}]
        assert found.response["usage"]["cost"] == 0.000123  # written as the exact number
        assert await records.load_response("resp_2") is None
        assert await records.delete_response("resp_1") and not await records.delete_response("resp_1")
        assert await records.load_response("resp_1") is None

    run_with_store(database_url, scenario)


def test_responses_past_their_retention_are_not_found_and_are_deleted(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        records = ResponseRecords(store.database, keep_days=30)
        old = datetime.now(UTC) - timedelta(days=31)
        await records.save_response(_stored("resp_old", old))
        await records.save_response(_stored("resp_new", datetime.now(UTC)))
        assert await records.load_response("resp_old") is None
        retention = Retention(records, 30, what="responses")
        assert await retention.run_once() == 1
        assert await records.load_response("resp_new") is not None

    run_with_store(database_url, scenario)
