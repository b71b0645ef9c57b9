"""Spend: cost per day by key, team, user, model or provider over a date range, as a stacked
chart and a table, and the same rows as CSV. Read through the admin API's spend report, which
merges raw records with the daily rollups of expired ones."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.pricing import format_usd
from calcifer.errors import InvalidRequest
from calcifer.http.admin import spend
from calcifer.http.admin.services import AccessServices, console_services
from calcifer.http.console.layout import BASE, esc, html_page, money, page, query_link, table
from calcifer.http.console.session import Session

__all__ = ["DIMENSIONS", "spend_csv", "spend_page", "spend_rows"]

DIMENSIONS = ("key", "team", "user", "model", "provider")
_FIELDS = {"key": "key_id", "team": "team_id", "user": "user", "model": "model", "provider": "provider"}
_DEFAULT_DAYS = 30


def _range(request: Request) -> tuple[date, date, str]:
    """The chosen first and last day (both included) and dimension; the last 30 days by key."""
    today = datetime.now(UTC).date()
    try:
        last = date.fromisoformat(request.args.get("to") or today.isoformat())
        first = date.fromisoformat(
            request.args.get("from") or (last - timedelta(days=_DEFAULT_DAYS - 1)).isoformat()
        )
    except ValueError:
        raise InvalidRequest("'from' and 'to' must be dates (YYYY-MM-DD)", param="from") from None
    if first > last:
        raise InvalidRequest("'from' must not be after 'to'", param="from")
    dimension = request.args.get("by", "key")
    if dimension not in DIMENSIONS:
        raise InvalidRequest(f"'by' must be one of {', '.join(DIMENSIONS)}", param="by")
    return first, last, dimension


async def spend_rows(services: AccessServices, first: date, last: date, dimension: str) -> dict[str, Any]:
    args = {
        "group_by": f"day,{dimension}",
        "from": first.isoformat(),
        "to": (last + timedelta(days=1)).isoformat(),
    }
    return await spend.report(services, args)


async def spend_page(request: Request, session: Session) -> HTTPResponse:
    first, last, dimension = _range(request)
    report = await spend_rows(console_services(request), first, last, dimension)
    field = _FIELDS[dimension]
    rows = [
        (esc(row["day"]), esc(row.get(field) or "—"), esc(row["requests"]), esc(row["input_tokens"]),
         esc(row["output_tokens"]), money(row["cost_usd"]), esc(row["cache_hits"]), money(row["saved_usd"]))
        for row in report["data"]
    ]  # fmt: skip
    total = report["total"]
    rows.append(("<b>Total</b>", "", esc(total["requests"]), esc(total["input_tokens"]),
                 esc(total["output_tokens"]), f"<b>{money(total['cost_usd'])}</b>",
                 esc(total["cache_hits"]), money(total["saved_usd"])))  # fmt: skip
    chart = [
        {"day": row["day"], "group": row.get(field) or "(none)", "cost_usd": format_usd(row["cost_usd"])}
        for row in report["data"]
    ]
    args = {"from": first.isoformat(), "to": last.isoformat(), "by": dimension}
    csv_link = query_link(f"{BASE}/spend.csv", args)
    body = (
        _filter_form(first, last, dimension)
        + f'<p><a id="spend-csv" class="button" href="{csv_link}">Export CSV</a> '
        + f'Total <b id="spend-total">{money(total["cost_usd"])}</b> USD '
        + f"over {esc(total['requests'])} requests</p>"
        + '<figure class="chart wide"><figcaption>Cost per day (USD)</figcaption>'
        + '<div class="canvas-box"><canvas id="chart-spend"></canvas></div></figure>'
        + f'<script type="application/json" id="spend-data">{_json_for_html(chart)}</script>'
        + table(
            ("Day", dimension.capitalize(), "Requests", "Input tokens", "Output tokens", "Cost (USD)",
             "Cache hits", "Saved (USD)"),
            rows,
        )
    )
    return html_page(page("Spend", body, session, active="spend"))


async def spend_csv(request: Request, session: Session) -> HTTPResponse:
    first, last, dimension = _range(request)
    report = await spend_rows(console_services(request), first, last, dimension)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", dimension, "requests", "input_tokens", "output_tokens", "cost_usd", "cache_hits",
                     "saved_usd"])  # fmt: skip
    field = _FIELDS[dimension]
    for row in report["data"]:
        writer.writerow([row["day"], row.get(field) or "", row["requests"], row["input_tokens"],
                         row["output_tokens"], format_usd(row["cost_usd"]), row["cache_hits"],
                         format_usd(row["saved_usd"])])  # fmt: skip
    name = f"calcifer-spend-{dimension}-{first.isoformat()}-{last.isoformat()}.csv"
    return HTTPResponse(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _filter_form(first: date, last: date, dimension: str) -> str:
    options = "".join(
        f'<option value="{d}"{" selected" if d == dimension else ""}>{d}</option>' for d in DIMENSIONS
    )
    return (
        f'<form method="get" action="{BASE}/spend" class="filters">'
        f'<label>From <input type="date" name="from" value="{first.isoformat()}"></label>'
        f'<label>To <input type="date" name="to" value="{last.isoformat()}"></label>'
        f'<label>By <select name="by">{options}</select></label>'
        '<button type="submit">Show</button></form>'
    )


def _json_for_html(value: object) -> str:
    """JSON inside a <script> element: `<` escaped so no value can close the element."""
    return orjson.dumps(value).decode().replace("<", "\\u003c")
