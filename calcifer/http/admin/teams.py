"""`/admin/teams`: teams group keys under one budget and one set of limits (master key only)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.access import AccessScope, ScopeKind, Team
from calcifer.domain.keys import new_id
from calcifer.errors import Conflict, ResourceNotFound
from calcifer.http.admin import forms
from calcifer.http.admin.services import AccessServices, admin_services
from calcifer.http.admin.views import (
    budget_summary,
    budget_view,
    iso,
    json_body,
    limits_view,
    scope_usage,
    usage_view,
)
from calcifer.http.jsonio import text_money_response
from calcifer.http.scope import RequestScope

__all__ = [
    "change",
    "create",
    "create_team",
    "delete",
    "delete_team",
    "existing_team",
    "get_team",
    "list_teams",
    "team_view",
    "update_team",
]


async def create_team(request: Request, scope: RequestScope) -> HTTPResponse:
    return text_money_response(await create(admin_services(request), json_body(request)), status=201)


async def list_teams(request: Request, scope: RequestScope) -> HTTPResponse:
    services = admin_services(request)
    teams = await services.key_store.list_teams()
    return text_money_response(
        {"object": "list", "data": [await team_view(services, t, spend=False) for t in teams]}
    )


async def get_team(request: Request, scope: RequestScope, team_id: str) -> HTTPResponse:
    services = admin_services(request)
    return text_money_response(await team_view(services, await existing_team(services, team_id)))


async def update_team(request: Request, scope: RequestScope, team_id: str) -> HTTPResponse:
    return text_money_response(await change(admin_services(request), team_id, json_body(request)))


async def delete_team(request: Request, scope: RequestScope, team_id: str) -> HTTPResponse:
    return text_money_response(await delete(admin_services(request), team_id))


# What the handlers and the `calcifer teams` command share.


async def create(services: AccessServices, body: dict[str, Any]) -> dict[str, Any]:
    forms.check_fields(body, forms.TEAM_FIELDS)
    team = Team(id=new_id("team"), name=forms.name_of(body), created_at=datetime.now(UTC))
    team = await _unique_name(services, _with_changes(team, body))
    await _save(services, team)
    return await team_view(services, team)


async def change(services: AccessServices, team_id: str, body: dict[str, Any]) -> dict[str, Any]:
    forms.check_fields(body, forms.TEAM_FIELDS)
    team = await existing_team(services, team_id)
    if "name" in body:
        team = await _unique_name(services, dataclasses.replace(team, name=forms.name_of(body)))
    team = _with_changes(team, body)
    await _save(services, team)
    return await team_view(services, team)


async def delete(services: AccessServices, team_id: str) -> dict[str, Any]:
    team = await existing_team(services, team_id)
    if await services.key_store.list_keys(team_id):
        raise Conflict(f"Team '{team_id}' still has keys: move or revoke them first", param="id")
    await services.key_store.delete_team(team.id)
    return {"id": team.id, "object": "team", "deleted": True}


async def _save(services: AccessServices, team: Team) -> None:
    await services.key_store.save_team(team)
    if services.directory is not None:
        services.directory.apply_team(team)  # this worker at once; the others at their next refresh


async def existing_team(services: AccessServices, team_id: str) -> Team:
    team = await services.key_store.get_team(team_id)
    if team is None:
        raise ResourceNotFound(f"No team has the id '{team_id}'", param="id")
    return team


async def team_view(services: AccessServices, team: Team, spend: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": team.id,
        "object": "team",
        "name": team.name,
        "budget": None,
        "limits": limits_view(team.limits),
        "usage": None,
        "metadata": team.metadata,
        "cache": team.cache,
        "created_at": iso(team.created_at),
    }
    if not spend:
        view["budget"] = None if team.budget is None else budget_summary(team.budget)
        return view
    scope = AccessScope(ScopeKind.TEAM, team.id, team.budget, team.limits)
    usage = await scope_usage(services, scope)
    view["usage"] = usage_view(usage)
    if team.budget is not None:
        view["budget"] = await budget_view(services, scope, team.budget, datetime.now(UTC), usage)
    return view


def _with_changes(team: Team, body: dict[str, Any]) -> Team:
    changes: dict[str, Any] = {}
    if "budget" in body:
        changes["budget"] = forms.budget_of(body["budget"])
    if "limits" in body:
        changes["limits"] = forms.limits_of(body["limits"])
    if "metadata" in body:
        changes["metadata"] = forms.metadata_of(body["metadata"])
    if "cache" in body:
        changes["cache"] = forms.cache_of(body["cache"])
    return dataclasses.replace(team, **changes) if changes else team


async def _unique_name(services: AccessServices, team: Team) -> Team:
    teams = await services.key_store.list_teams()
    if any(other.name == team.name and other.id != team.id for other in teams):
        raise Conflict(f"A team named '{team.name}' exists already", param="name")
    return team
