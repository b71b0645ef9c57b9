"""Overview: requests, errors, cost, p50/p99 latency and time to first token over the last hour,
day or week, and the response cache (hit ratio, saved USD, bytes held). The page is a frame;
`console.js` fills it from `GET /admin/stats`."""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.http.admin.stats import WINDOWS
from calcifer.http.console.layout import esc, html_page, page
from calcifer.http.console.session import Session

__all__ = ["overview"]

_CHARTS = (
    ("chart-requests", "Requests and errors"),
    ("chart-cost", "Cost (USD)"),
    ("chart-latency", "Latency p50 / p99 (ms)"),
    ("chart-ttft", "Time to first token p50 / p99 (ms, streams)"),
    ("chart-cache", "Response cache: hits and misses"),
)
_TOTALS = (("total-requests", "Requests"), ("total-errors", "Errors"), ("total-cost", "Cost (USD)"))
_CACHE_TOTALS = (
    ("cache-hit-ratio", "Cache hit ratio", "hits / (hits + misses), every worker and replica"),
    ("cache-saved", "Saved by the cache (USD)", "the hits' first cost, less what they were billed"),
    ("cache-bytes", "Cache bytes held", ""),
)


async def overview(request: Request, session: Session) -> HTTPResponse:
    window = request.args.get("window", "day")
    window = window if window in WINDOWS else "day"
    tabs = "".join(
        f'<a href="/admin/?window={name}"{" class=current" if name == window else ""}>Last {name}</a>'
        for name in WINDOWS
    )
    totals = "".join(_stat(ident, label) for ident, label in _TOTALS) + "".join(
        _stat(ident, label, note) for ident, label, note in _CACHE_TOTALS
    )
    charts = "".join(
        f'<figure class="chart"><figcaption>{esc(caption)}</figcaption>'
        f'<div class="canvas-box"><canvas id="{ident}"></canvas></div></figure>'
        for ident, caption in _CHARTS
    )
    body = (
        f'<nav class="tabs">{tabs}</nav>'
        f'<section class="totals" id="overview" data-window="{esc(window)}">{totals}</section>'
        f'<p class="note" id="overview-status">Loading…</p>'
        f'<section class="charts">{charts}</section>'
    )
    return html_page(page("Overview", body, session, active="overview"))


def _stat(ident: str, label: str, note: str = "") -> str:
    """One figure; its note (`<ident>-note`) says what it counts and may be filled by the script."""
    return (
        f'<div class="stat"><span class="label">{esc(label)}</span>'
        f'<span class="value" id="{ident}">…</span>'
        f'<span class="note small" id="{ident}-note">{esc(note)}</span></div>'
    )
