"""Keys and teams: create (a new key's secret shown once, with a copy button), edit budget and
limits, revoke; each with its spend against its budget as a bar. Changes go through the same
functions as the admin API (`calcifer.http.admin.keys`, `.teams`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, redirect

from calcifer.domain.access import NO_LIMITS, AccessScope, ScopeKind
from calcifer.errors import RequestError
from calcifer.http.admin import keys, teams
from calcifer.http.admin.services import AccessServices, console_services
from calcifer.http.console.guard import form_fields
from calcifer.http.console.key_forms import budget_limit_inputs, key_body, team_body
from calcifer.http.console.layout import BASE, csrf_input, esc, html_page, money, page, table
from calcifer.http.console.session import Session

__all__ = ["create_key", "create_team", "edit_key", "edit_team", "keys_page", "revoke_key"]

PAGE = f"{BASE}/keys"


async def keys_page(request: Request, session: Session, new_key: dict[str, Any] | None = None,
                    flash: str = "", status: int = 200) -> HTTPResponse:  # fmt: skip
    services = console_services(request)
    key_views = [await keys.key_view(services, key) for key in await services.key_store.list_keys()]
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = {
        view["id"]: await _spent_since(services, view, month) for view in key_views if not view["budget"]
    }
    team_views = [await teams.team_view(services, team) for team in await services.key_store.list_teams()]
    spent |= {
        view["id"]: await _spent_since(services, view, month) for view in team_views if not view["budget"]
    }
    body = (
        (_new_key_box(new_key) if new_key else "")
        + "<h2>Keys</h2>"
        + _create_key_form(session, team_views)
        + table(
            ("Name", "Key", "Status", "Team / user", "Spend vs budget", "Limits", ""),
            [_key_row(session, view, spent.get(view["id"])) for view in key_views],
            css="keys",
        )
        + "<h2>Teams</h2>"
        + _create_team_form(session)
        + table(
            ("Name", "Id", "Spend vs budget", "Limits", ""),
            [_team_row(session, view, spent.get(view["id"])) for view in team_views],
            css="teams",
        )
    )
    return html_page(page("Keys and teams", body, session, active="keys", flash=flash), status=status)


async def create_key(request: Request, session: Session) -> HTTPResponse:
    services = console_services(request)
    try:
        created = await keys.issue(services, key_body(form_fields(request), creating=True), _models(request))
    except RequestError as exc:
        return await keys_page(request, session, flash=str(exc), status=400)
    return await keys_page(request, session, new_key=created)


async def edit_key(request: Request, session: Session, key_id: str) -> HTTPResponse:
    return await _change(request, session, lambda s: keys.change(
        s, key_id, key_body(form_fields(request), creating=False), _models(request)))  # fmt: skip


async def revoke_key(request: Request, session: Session, key_id: str) -> HTTPResponse:
    return await _change(request, session, lambda s: keys.revoke(s, key_id))


async def create_team(request: Request, session: Session) -> HTTPResponse:
    return await _change(request, session, lambda s: teams.create(s, team_body(form_fields(request), True)))


async def edit_team(request: Request, session: Session, team_id: str) -> HTTPResponse:
    return await _change(request, session, lambda s: teams.change(
        s, team_id, team_body(form_fields(request), creating=False)))  # fmt: skip


async def _change(request: Request, session: Session, change: Any) -> HTTPResponse:
    """Apply a change, then back to the page (a 303, so reloading does not repeat it)."""
    services: AccessServices = console_services(request)
    try:
        await change(services)
    except RequestError as exc:
        return await keys_page(request, session, flash=str(exc), status=400)
    return redirect(PAGE, status=303)


def _models(request: Request) -> set[str]:
    models = request.app.ctx.runtime.current.gateway.models
    return {name for model in models for name in (model.name, *model.aliases)}


def _new_key_box(created: dict[str, Any]) -> str:
    return (
        '<section class="new-key card" role="status">'
        f"<p>Key <b>{esc(created['name'])}</b> created. Copy it now: it is never shown again.</p>"
        f'<code id="new-key-secret">{esc(created["key"])}</code> '
        '<button type="button" class="copy" data-copy="new-key-secret" id="copy-key">Copy</button>'
        '<span class="copied" id="copied" hidden>Copied</span></section>'
    )


async def _spent_since(services: AccessServices, view: dict[str, Any], since: datetime) -> Decimal:
    """What a key or team without a budget spent this month (read from its spend index)."""
    kind = ScopeKind.TEAM if view["object"] == "team" else ScopeKind.KEY
    return await services.ledger_store.spent(AccessScope(kind, view["id"], None, NO_LIMITS), since)


def _spend_bar(view: dict[str, Any], month: Decimal | None) -> str:
    budget = view.get("budget")
    if not budget:
        amount = month if month is not None else Decimal(0)
        return f'<span class="spend">{money(amount)}</span> <span class="muted">this month, no budget</span>'
    spent, limit = budget.get("spend_usd", Decimal(0)), budget["max_usd"]
    high = limit * Decimal("0.8")
    return (
        f'<meter min="0" max="{money(limit)}" high="{money(high)}" optimum="0" '
        f'value="{money(min(spent, limit))}">'
        f'</meter> <span class="spend">{money(spent)}</span> / {money(limit)} '
        f'<span class="muted">{esc(budget["period"])}</span>'
    )


def _limits(view: dict[str, Any]) -> str:
    limits = view.get("limits") or {}
    parts = [f"{name} {limits[name]}" for name in ("rpm", "tpm", "max_parallel") if limits.get(name)]
    text = esc(", ".join(parts) or "none")
    if view.get("cache") is False:  # a zero-data-retention tenant: say so where its limits are
        text += f'<br><span class="no-cache" id="no-cache-{esc(view["id"])}">response cache off</span>'
    return text


def _key_row(session: Session, view: dict[str, Any], month: Decimal | None) -> list[str]:
    key_id = esc(view["id"])
    actions = ""
    if view["status"] != "revoked":
        actions = (
            f'<details><summary>Edit</summary><form method="post" action="{PAGE}/{key_id}" class="edit">'
            f"{csrf_input(session)}{budget_limit_inputs(view, key_id)}"
            '<button type="submit">Save</button></form></details>'
            f'<form method="post" action="{PAGE}/{key_id}/revoke" class="inline">{csrf_input(session)}'
            f'<button type="submit" class="danger" id="revoke-{key_id}">Revoke</button></form>'
        )
    owner = " / ".join(esc(part) for part in (view.get("team_id"), view.get("user")) if part) or "—"
    return [
        f'<span class="key-name" data-key-id="{key_id}">{esc(view["name"])}</span>',
        f"<code>{esc(view['prefix'])}…</code><br><small>{key_id}</small>",
        f'<span class="status {esc(view["status"])}" id="status-{key_id}">{esc(view["status"])}</span>',
        owner,
        f'<span id="spend-{key_id}">{_spend_bar(view, month)}</span>',
        _limits(view),
        actions,
    ]


def _team_row(session: Session, view: dict[str, Any], month: Decimal | None) -> list[str]:
    team_id = esc(view["id"])
    return [
        esc(view["name"]),
        f"<small>{team_id}</small>",
        _spend_bar(view, month),
        _limits(view),
        f'<details><summary>Edit</summary><form method="post" action="{BASE}/teams/{team_id}" class="edit">'
        f"{csrf_input(session)}{budget_limit_inputs(view, team_id)}"
        '<button type="submit">Save</button></form></details>',
    ]


def _create_key_form(session: Session, team_views: list[dict[str, Any]]) -> str:
    options = '<option value="">none</option>' + "".join(
        f'<option value="{esc(t["id"])}">{esc(t["name"])}</option>' for t in team_views
    )
    return (
        '<details class="card" open><summary>New key</summary>'
        f'<form method="post" action="{PAGE}" class="edit">'
        f"{csrf_input(session)}"
        '<label>Name <input name="name" id="new-key-name" required maxlength="200"></label>'
        f'<label>Team <select name="team_id">{options}</select></label>'
        '<label>User <input name="user" maxlength="200"></label>'
        '<label>Models <input name="models" placeholder="all (comma-separated)"></label>'
        '<label>Expires <input type="date" name="expires_at"></label>'
        f"{budget_limit_inputs({}, 'new-key')}"
        '<button type="submit" id="create-key">Create key</button></form></details>'
    )


def _create_team_form(session: Session) -> str:
    return (
        '<details class="card"><summary>New team</summary>'
        f'<form method="post" action="{BASE}/teams" class="edit">'
        f"{csrf_input(session)}"
        '<label>Name <input name="name" id="new-team-name" required maxlength="200"></label>'
        f"{budget_limit_inputs({}, 'new-team')}"
        '<button type="submit" id="create-team">Create team</button></form></details>'
    )
