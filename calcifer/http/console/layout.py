"""The console's page frame and small HTML helpers: every value a page shows goes through `esc`."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from decimal import Decimal
from string import Template
from urllib.parse import urlencode

from sanic.response import HTTPResponse

from calcifer.domain.pricing import format_usd
from calcifer.http.console.session import CSRF_FIELD, Session

__all__ = [
    "BASE",
    "HEADERS",
    "csrf_input",
    "esc",
    "html_page",
    "money",
    "page",
    "query_link",
    "table",
]

BASE = "/admin/console"
HEADERS = {
    # The console's pages run only the console's own scripts and cannot be framed.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_PAGES = (
    ("overview", "/admin/", "Overview"),
    ("spend", f"{BASE}/spend", "Spend"),
    ("keys", f"{BASE}/keys", "Keys and teams"),
    ("models", f"{BASE}/models", "Models"),
    ("requests", f"{BASE}/requests", "Requests"),
)
_FRAME = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="$csrf">
<title>$title · Calcifer</title>
<link rel="stylesheet" href="$base/static/console.css">
<script src="$base/static/chart.umd.min.js" defer></script>
<script src="$base/static/console.js" defer></script>
</head>
<body data-page="$active">
<header class="top">
<a class="brand" href="/admin/">Calcifer</a>
<nav>$nav</nav>
$sign_out
</header>
<main>
<h1>$title</h1>
$flash
$body
</main>
</body>
</html>
""")


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def money(value: object) -> str:
    return format_usd(value) if isinstance(value, Decimal) else esc(value)


def csrf_input(session: Session) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{esc(session.csrf_token)}">'


def page(title: str, body: str, session: Session | None, active: str = "", flash: str = "") -> str:
    nav = (
        ""
        if session is None
        else "".join(
            f'<a href="{href}"{" class=current" if name == active else ""}>{esc(label)}</a>'
            for name, href, label in _PAGES
        )
    )
    sign_out = (
        ""
        if session is None
        else (
            f'<form method="post" action="{BASE}/sign-out" class="sign-out">{csrf_input(session)}'
            '<button type="submit" id="sign-out">Sign out</button></form>'
        )
    )
    return _FRAME.substitute(
        title=esc(title),
        csrf=esc(session.csrf_token) if session else "",
        base=BASE,
        active=esc(active),
        nav=nav,
        sign_out=sign_out,
        flash=f'<p class="flash" role="alert">{esc(flash)}</p>' if flash else "",
        body=body,
    )


def html_page(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTTPResponse:
    return HTTPResponse(
        text, status=status, headers={**HEADERS, **(headers or {})}, content_type="text/html; charset=utf-8"
    )


def table(headings: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """Cells are HTML already (escape values with `esc` first)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def query_link(path: str, args: Mapping[str, str | None]) -> str:
    kept = {name: value for name, value in args.items() if value}
    return esc(f"{path}?{urlencode(kept)}" if kept else path)
