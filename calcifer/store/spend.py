"""Spend reports: raw ledger records and the daily rollups of expired ones, summed exactly and
merged, so totals do not change when records expire."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from calcifer.domain.access import AccessScope, ScopeKind
from calcifer.domain.ports import SpendQuery, SpendReport
from calcifer.store.database import Codec, Result, Statement
from calcifer.store.ledger import HITS

__all__ = ["GROUPS", "merge_spend", "spend_statements", "spent_statements", "spent_total"]

GROUPS: dict[str, tuple[str, str, str]] = {
    # group name: (field in the report, raw ledger expression, rollup column)
    "key": ("key_id", "key_id", "key_id"),
    "team": ("team_id", "team_id", "team_id"),
    "user": ("user", "user_name", "user_name"),
    "model": ("model", "COALESCE(served_model, requested_model)", "model"),
    "provider": ("provider", "provider", "provider"),
    "day": ("day", "day", "day"),
}


def spent_statements(scope: AccessScope, since: datetime | None, codec: Codec) -> list[Statement]:
    """A key's or team's cost since a time: raw records, plus rollups from that day on."""
    column = "key_id" if scope.kind is ScopeKind.KEY else "team_id"
    raw = f"SELECT {codec.cost_sum()} FROM ledger WHERE {column} = ?"
    rolled = f"SELECT {codec.cost_sum()} FROM ledger_daily WHERE {column} = ?"
    if since is None:
        return [Statement(raw, (scope.id,)), Statement(rolled, (scope.id,))]
    return [
        Statement(f"{raw} AND started_at >= ?", (scope.id, codec.time_in(since))),
        Statement(f"{rolled} AND day >= ?", (scope.id, utc_day(since))),
    ]


def utc_day(moment: datetime) -> str:
    """The UTC date a moment falls on (a naive moment is taken as UTC, as everywhere here)."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date().isoformat()


def spent_total(results: Sequence[Result], codec: Codec) -> Decimal:
    return sum((codec.summed_cost(result.rows[0][0]) for result in results), Decimal(0))


def spend_statements(query: SpendQuery, codec: Codec) -> list[Statement]:
    """Raw records in [since, until); rollups of the days that range touches."""
    unknown = [name for name in query.group_by if name not in GROUPS]
    if unknown:
        raise ValueError(f"group_by: unknown group {unknown[0]!r} (one of {', '.join(GROUPS)})")
    return [_raw_statement(query, codec), _rollup_statement(query, codec)]


def _raw_statement(query: SpendQuery, codec: Codec) -> Statement:
    where, params = _scope_filters(query)
    if query.since is not None:
        where.append("started_at >= ?")
        params.append(codec.time_in(query.since))
    if query.until is not None:
        where.append("started_at < ?")
        params.append(codec.time_in(query.until))
    groups = [GROUPS[name][1] for name in query.group_by]
    totals = (
        f"COUNT(*), COALESCE(SUM(input_tokens + cached_input_tokens + cache_write_tokens), 0), "
        f"COALESCE(SUM(output_tokens + reasoning_tokens), 0), {codec.cost_sum()}, "
        f"{HITS}, {codec.money_sum('saved')}"
    )
    return Statement(_grouped("ledger", groups, totals, where), params)


def _rollup_statement(query: SpendQuery, codec: Codec) -> Statement:
    where, params = _scope_filters(query)
    if query.since is not None:
        where.append("day >= ?")
        params.append(utc_day(query.since))
    if query.until is not None:
        where.append("day <= ?")
        params.append(utc_day(query.until - timedelta(microseconds=1)))
    groups = [GROUPS[name][2] for name in query.group_by]
    totals = (
        f"COALESCE(SUM(requests), 0), COALESCE(SUM(input_tokens), 0), "
        f"COALESCE(SUM(output_tokens), 0), {codec.cost_sum()}, "
        f"COALESCE(SUM(cache_hits), 0), {codec.money_sum('saved')}"
    )
    return Statement(_grouped("ledger_daily", groups, totals, where), params)


def _scope_filters(query: SpendQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("key_id", query.key_id), ("team_id", query.team_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return where, params


def _grouped(table: str, groups: list[str], totals: str, where: list[str]) -> str:
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    if not groups:
        return f"SELECT {totals} FROM {table}{condition}"
    listed = ", ".join(groups)
    return f"SELECT {listed}, {totals} FROM {table}{condition} GROUP BY {listed}"


def merge_spend(query: SpendQuery, results: Sequence[Result], codec: Codec) -> SpendReport:
    width = len(query.group_by)
    merged: dict[tuple[str | None, ...], list[Any]] = {}
    for result in results:
        for row in result.rows:
            # Rollups store a missing dimension as ''; raw records as NULL: both mean "none".
            group = tuple(value or None for value in row[:width])
            requests, input_tokens, output_tokens, cost, hits, saved = row[width:]
            if not group and not requests:
                continue
            sums = merged.setdefault(group, [0, 0, 0, Decimal(0), 0, Decimal(0)])
            sums[0] += int(requests)
            sums[1] += int(input_tokens)
            sums[2] += int(output_tokens)
            sums[3] += codec.summed_cost(cost)
            sums[4] += int(hits)
            sums[5] += codec.summed_cost(saved)
    fields = [GROUPS[name][0] for name in query.group_by]
    rows = [
        {**dict(zip(fields, group, strict=True)), **_totals(sums)}
        for group, sums in sorted(merged.items(), key=lambda item: tuple(v or "" for v in item[0]))
    ]
    zero: list[Any] = [0, 0, 0, Decimal(0), 0, Decimal(0)]
    grand = [sum((row[i] for row in merged.values()), start) for i, start in enumerate(zero)]
    return SpendReport(rows=rows, total=_totals(grand))


def _totals(sums: list[Any]) -> dict[str, object]:
    """A hit is a request and its cost (0 unless `cache.hit_cost_fraction`) is spend; what it
    saved is apart."""
    names = ("requests", "input_tokens", "output_tokens", "cost_usd", "cache_hits", "saved_usd")
    return dict(zip(names, sums, strict=True))
