"""Ledger records as rows: append (idempotent by request id), one page of requests, and the
roll-up of old records into daily totals."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from calcifer.domain.ports import LedgerRecord, RequestQuery
from calcifer.errors import InvalidRequest
from calcifer.store.database import Codec, Statement, from_micros, pico, to_micros
from calcifer.store.schema import PICO_PER_USD

__all__ = [
    "HITS",
    "MISSES",
    "RECORD_COLUMNS",
    "append_statement",
    "decode_cursor",
    "encode_cursor",
    "expire_statements",
    "record_from_row",
    "requests_statement",
]

RECORD_COLUMNS = (
    "request_id, started_at, route, status, key_id, team_id, user_name, requested_model, "
    "served_model, provider, attempts, error_code, stream, input_tokens, cached_input_tokens, "
    "cache_write_tokens, reasoning_tokens, output_tokens, cost_usd, cost_estimated, price_version, "
    "latency_ms, ttft_ms, overhead_ms, service_tier, cache_hit, saved_usd, cache_result"
)

EXPIRY_LOCK = 7_311_011
"""PostgreSQL advisory lock taken by `expire`, so workers rolling up at once never count a
record twice (SQLite's BEGIN IMMEDIATE serialises them already)."""


def append_statement(records: Sequence[LedgerRecord], codec: Codec) -> Statement:
    columns = f"{RECORD_COLUMNS}, day" + (", cost_pico, saved_pico" if codec.sqlite else "")
    placeholders = ", ".join("?" for _ in columns.split(","))
    sql = f"INSERT INTO ledger ({columns}) VALUES ({placeholders}) ON CONFLICT (request_id) DO NOTHING"
    return Statement(sql, [_record_params(record, codec) for record in records], many=True)


def _record_params(record: LedgerRecord, codec: Codec) -> tuple[Any, ...]:
    started = record.started_at if record.started_at.tzinfo else record.started_at.replace(tzinfo=UTC)
    params: tuple[Any, ...] = (
        record.request_id, codec.time_in(started), record.route, record.status, record.key_id,
        record.team_id, record.user, record.requested_model, record.served_model, record.provider,
        record.attempts, record.error_code, codec.flag_in(record.stream), record.input_tokens,
        record.cached_input_tokens, record.cache_write_tokens, record.reasoning_tokens,
        record.output_tokens, codec.money_in(record.cost_usd), codec.flag_in(record.cost_estimated),
        record.price_version, record.latency_ms, record.ttft_ms, record.overhead_ms,
        record.service_tier, codec.flag_in(record.cache_hit),
        codec.money_in(record.saved_usd) if record.cache_hit else None, record.cache_result,
        started.astimezone(UTC).date().isoformat(),
    )  # fmt: skip
    if not codec.sqlite:
        return params
    return (*params, pico(record.cost_usd), pico(record.saved_usd) if record.cache_hit else 0)


def record_from_row(row: Sequence[Any], codec: Codec) -> LedgerRecord:
    (request_id, started, route, status, key_id, team_id, user, requested_model, served_model,
     provider, attempts, error_code, stream, input_tokens, cached, cache_write, reasoning, output,
     cost, estimated, price_version, latency, ttft, overhead, service_tier, cache_hit,
     saved, cache_result) = row  # fmt: skip
    started_at = codec.time_out(started)
    cost_usd = codec.money_out(cost)
    assert started_at is not None and cost_usd is not None
    return LedgerRecord(
        request_id=request_id, started_at=started_at, route=route, status=status, key_id=key_id,
        team_id=team_id, user=user, requested_model=requested_model, served_model=served_model,
        provider=provider, attempts=attempts, error_code=error_code, stream=bool(stream),
        input_tokens=input_tokens, cached_input_tokens=cached, cache_write_tokens=cache_write,
        reasoning_tokens=reasoning, output_tokens=output, cost_usd=cost_usd,
        cost_estimated=bool(estimated), price_version=price_version, latency_ms=latency,
        ttft_ms=ttft, overhead_ms=overhead, service_tier=service_tier, cache_hit=bool(cache_hit),
        saved_usd=codec.money_out(saved) or Decimal(0), cache_result=cache_result,
    )  # fmt: skip


def requests_statement(query: RequestQuery, codec: Codec) -> Statement:
    """Newest first, one more row than the page so the caller knows whether another follows."""
    where, params = [], []
    filters = (("key_id = ?", query.key_id), ("team_id = ?", query.team_id), ("status = ?", query.status))
    for clause, value in filters:
        if value is not None:
            where.append(clause)
            params.append(value)
    if query.model is not None:
        where.append("(served_model = ? OR requested_model = ?)")
        params += [query.model, query.model]
    if query.since is not None:
        where.append("started_at >= ?")
        params.append(codec.time_in(query.since))
    if query.until is not None:
        where.append("started_at < ?")
        params.append(codec.time_in(query.until))
    if query.cursor is not None:
        started, request_id = decode_cursor(query.cursor)
        where.append("(started_at < ? OR (started_at = ? AND request_id < ?))")
        params += [codec.time_in(started), codec.time_in(started), request_id]
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT {RECORD_COLUMNS} FROM ledger {condition} "
        f"ORDER BY started_at DESC, request_id DESC LIMIT {max(1, int(query.limit)) + 1}"
    )
    return Statement(sql, params)


def encode_cursor(record: LedgerRecord) -> str:
    text = f"{to_micros(record.started_at)}:{record.request_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """`InvalidRequest` (400, naming `cursor`) for a cursor this store did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, request_id = text.split(":", 1)
        return from_micros(int(micros)), request_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidRequest("'cursor' is not one this API returned", param="cursor") from exc


_ROLLUP_DIMENSIONS = (
    "day, COALESCE(key_id, ''), COALESCE(team_id, ''), COALESCE(user_name, ''), "
    "COALESCE(served_model, requested_model, ''), COALESCE(provider, '')"
)


def expire_statements(keep_days: int, now: datetime, codec: Codec) -> tuple[datetime, list[Statement]]:
    """Raw records from before the start of the day `keep_days` ago: counted, added to the
    daily rollups, deleted — in one transaction."""
    cutoff = (now.astimezone(UTC) - timedelta(days=keep_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    before = codec.time_in(cutoff)
    statements = [
        Statement("SELECT COUNT(*) FROM ledger WHERE started_at < ?", (before,)),
        Statement(_rollup_sql(codec), (before,)),
        Statement("DELETE FROM ledger WHERE started_at < ?", (before,)),
    ]
    if not codec.sqlite:
        statements.insert(0, Statement(f"SELECT pg_advisory_xact_lock({EXPIRY_LOCK})"))
    return cutoff, statements


HITS = "COUNT(*) FILTER (WHERE cache_hit)"
MISSES = "COUNT(*) FILTER (WHERE cache_result = 'miss')"
"""Hits and misses of the response cache among raw records (`cache_result` NULL: the cache was
off). Hits are read from the flag, which migration 8 made agree with `cache_result`: testing an
integer is cheaper on SQLite than comparing text, for the spend report's scan of every record."""


def _rollup_sql(codec: Codec) -> str:
    # SQLite keeps a rollup's decimal text for people reading the table; sums use the picos.
    money = ("cost", "saved")
    if codec.sqlite:
        columns = "cost_usd, saved_usd, cost_pico, saved_pico"
        sums = ", ".join([_pico_text(f"SUM({m}_pico)") for m in money] + [f"SUM({m}_pico)" for m in money])
        updates = [f"{m}_usd = {_money_add(codec, m)}, {m}_pico = ledger_daily.{m}_pico + excluded.{m}_pico"
                   for m in money]  # fmt: skip
    else:
        columns = "cost_usd, saved_usd"
        sums = "SUM(cost_usd), COALESCE(SUM(saved_usd), 0)"
        updates = [f"{m}_usd = {_money_add(codec, m)}" for m in money]
    added = ", ".join(
        f"{c} = ledger_daily.{c} + excluded.{c}"
        for c in ("requests", "input_tokens", "output_tokens", "cache_hits", "cache_misses")
    )
    return (
        f"INSERT INTO ledger_daily (day, key_id, team_id, user_name, model, provider, requests, "
        f"input_tokens, output_tokens, cache_hits, cache_misses, {columns}) "
        f"SELECT {_ROLLUP_DIMENSIONS}, COUNT(*), "
        f"SUM(input_tokens + cached_input_tokens + cache_write_tokens), "
        f"SUM(output_tokens + reasoning_tokens), {HITS}, {MISSES}, {sums} "
        f"FROM ledger WHERE started_at < ? GROUP BY {_ROLLUP_DIMENSIONS} "
        f"ON CONFLICT (day, key_id, team_id, user_name, model, provider) DO UPDATE SET "
        f"{added}, {', '.join(updates)}"
    )


def _money_add(codec: Codec, name: str) -> str:
    if codec.sqlite:
        return _pico_text(f"(ledger_daily.{name}_pico + excluded.{name}_pico)")
    return f"ledger_daily.{name}_usd + excluded.{name}_usd"


def _pico_text(expression: str) -> str:
    """SQLite: an integer count of 1e-12 USD as exact decimal text (costs are never negative)."""
    return f"printf('%d.%012d', {expression} / {PICO_PER_USD}, {expression} % {PICO_PER_USD})"
