"""Requests: the ledger, newest first, filtered by key, model, status and time, a page at a time;
and one request's detail (usage buckets, cost and whether it was estimated, attempts, overhead)."""

from __future__ import annotations

import dataclasses

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.ports import LedgerRecord, RequestQuery
from calcifer.errors import InvalidRequest, ResourceNotFound
from calcifer.http.admin import forms
from calcifer.http.admin.services import console_services
from calcifer.http.admin.views import iso
from calcifer.http.console.layout import BASE, esc, html_page, money, page, query_link, table
from calcifer.http.console.session import Session

__all__ = ["request_detail", "requests_page"]

PAGE = f"{BASE}/requests"
_FILTERS = ("key_id", "model", "status", "from", "to")
_PAGE_SIZE = 50


async def requests_page(request: Request, session: Session) -> HTTPResponse:
    args = {name: request.args.get(name, "").strip() for name in (*_FILTERS, "cursor")}
    status = args["status"]
    if status and (not status.isdigit() or not 100 <= int(status) <= 599):
        raise InvalidRequest("'status' must be an HTTP status (100 to 599)", param="status")
    query = RequestQuery(
        key_id=args["key_id"] or None,
        model=args["model"] or None,
        status=int(status) if status else None,
        since=forms.time_of(args["from"], "from"),
        until=forms.time_of(args["to"], "to"),
        limit=_PAGE_SIZE,
        cursor=args["cursor"] or None,
    )
    found = await console_services(request).ledger_store.requests(query)
    rows = [_row(record) for record in found.records]
    more = ""
    if found.next_cursor:
        older = query_link(PAGE, {**args, "cursor": found.next_cursor})
        more = f'<p><a class="button" id="older" href="{older}">Older</a></p>'
    body = (
        _filter_form(args)
        + table(
            ("Time", "Status", "Key", "Model", "Provider", "Cache", "Tokens in / out", "Cost (USD)",
             "Latency (ms)"),
            rows,
            css="requests",
        )
        + (more or ('<p class="note">No more requests.</p>' if rows else '<p class="note">No requests.</p>'))
    )
    return html_page(page("Requests", body, session, active="requests"))


async def request_detail(request: Request, session: Session, request_id: str) -> HTTPResponse:
    record = await console_services(request).ledger_store.record(request_id)
    if record is None:
        raise ResourceNotFound(
            f"No request '{request_id}' in the ledger (records past retention are rolled up)"
        )
    fields = dataclasses.asdict(record)
    fields["started_at"] = iso(record.started_at)
    fields["cost_usd"] = money(record.cost_usd)
    cells = [(f"<th>{esc(name)}</th>", f'<td id="field-{esc(name)}">{_value(value)}</td>')
             for name, value in fields.items()]  # fmt: skip
    rows = "".join(f"<tr>{name}{value}</tr>" for name, value in cells)
    body = (
        f'<p><a href="{PAGE}">← All requests</a></p>'
        f'<div class="scroll"><table class="detail">{rows}</table></div>'
    )
    return html_page(page(f"Request {request_id}", body, session, active="requests"))


def _value(value: object) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    return esc(value)


def _row(record: LedgerRecord) -> list[str]:
    link = f'<a href="{PAGE}/{esc(record.request_id)}">{esc(iso(record.started_at))}</a>'
    estimated = ' <span class="muted" title="estimated">≈</span>' if record.cost_estimated else ""
    inputs = record.input_tokens + record.cached_input_tokens + record.cache_write_tokens
    outputs = record.output_tokens + record.reasoning_tokens
    return [
        link,
        f'<span class="status-{record.status // 100}xx">{record.status}</span>',
        esc(record.key_id or "—"),
        esc(record.served_model or record.requested_model or "—"),
        esc(record.provider or "—"),
        _cache_cell(record),
        f"{inputs} / {outputs}",
        money(record.cost_usd) + estimated,
        esc(round(record.latency_ms, 1)),
    ]


def _cache_cell(record: LedgerRecord) -> str:
    """What the response cache did: a hit stands out (its cost is the hit's, not the answer's)."""
    if record.cache_hit:
        saved = f"saved {money(record.saved_usd)} USD"
        return f'<span class="cache-hit" title="answered from the response cache; {saved}">hit</span>'
    return esc(record.cache_result or "—")


def _filter_form(args: dict[str, str]) -> str:
    inputs = "".join(
        f'<label>{label} <input name="{name}" value="{esc(args[name])}" placeholder="{placeholder}"></label>'
        for name, label, placeholder in (
            ("key_id", "Key id", "any"),
            ("model", "Model", "any"),
            ("status", "Status", "any"),
            ("from", "From", "2026-01-31T00:00"),
            ("to", "To", "now"),
        )
    )
    button = '<button type="submit">Filter</button>'
    return f'<form method="get" action="{PAGE}" class="filters">{inputs}{button}</form>'
