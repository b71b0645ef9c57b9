"""`GET /admin/spend` (totals grouped as asked) and `GET /admin/requests` (ledger rows, newest
first) — read from the ledger; money as exact decimal strings."""

from __future__ import annotations

import dataclasses
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.ports import LedgerRecord, RequestQuery, SpendQuery
from calcifer.errors import InvalidRequest
from calcifer.http.admin import forms
from calcifer.http.admin.services import AccessServices, admin_services
from calcifer.http.admin.views import iso
from calcifer.http.jsonio import text_money_response
from calcifer.http.scope import RequestScope

__all__ = ["GROUPS", "list_requests", "record_view", "report", "spend"]

GROUPS = ("key", "team", "user", "model", "provider", "day")
_SPEND_ARGS = {"group_by", "from", "to", "key_id", "team_id"}
_REQUEST_ARGS = {"key_id", "team_id", "model", "status", "from", "to", "limit", "cursor"}
_MOST_ROWS = 1000


async def spend(request: Request, scope: RequestScope) -> HTTPResponse:
    return text_money_response(await report(admin_services(request), _args(request)))


async def report(services: AccessServices, args: dict[str, str]) -> dict[str, Any]:
    """Spend grouped as `args` ask (`group_by`, `from`, `to`, `key_id`, `team_id`)."""
    forms.check_fields(args, _SPEND_ARGS)
    group_by = tuple(part.strip() for part in args.get("group_by", "").split(",") if part.strip())
    unknown = [group for group in group_by if group not in GROUPS]
    if unknown:
        raise InvalidRequest(
            f"'group_by' takes {', '.join(GROUPS)}; not {', '.join(unknown)}", param="group_by"
        )
    query = SpendQuery(
        group_by=tuple(dict.fromkeys(group_by)),
        since=forms.time_of(args.get("from"), "from"),
        until=forms.time_of(args.get("to"), "to"),
        key_id=args.get("key_id"),
        team_id=args.get("team_id"),
    )
    found = await services.ledger_store.spend(query)
    return {"object": "spend", "group_by": list(query.group_by), "data": found.rows, "total": found.total}


async def list_requests(request: Request, scope: RequestScope) -> HTTPResponse:
    services = admin_services(request)
    args = _args(request)
    forms.check_fields(args, _REQUEST_ARGS)
    query = RequestQuery(
        key_id=args.get("key_id"),
        team_id=args.get("team_id"),
        model=args.get("model"),
        status=_int(args, "status", 100, 599),
        since=forms.time_of(args.get("from"), "from"),
        until=forms.time_of(args.get("to"), "to"),
        limit=_int(args, "limit", 1, _MOST_ROWS) or 100,
        cursor=args.get("cursor"),
    )
    page = await services.ledger_store.requests(query)
    return text_money_response(
        {"object": "list", "data": [record_view(r) for r in page.records], "next_cursor": page.next_cursor}
    )


def record_view(record: LedgerRecord) -> dict[str, Any]:
    view = dataclasses.asdict(record)
    view["started_at"] = iso(record.started_at)
    return view


def _args(request: Request) -> dict[str, str]:
    return {name: values[-1] for name, values in request.args.items()}


def _int(args: dict[str, str], name: str, lowest: int, highest: int) -> int | None:
    text = args.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise InvalidRequest(f"'{name}' must be a whole number from {lowest} to {highest}", param=name)
    return int(text)
