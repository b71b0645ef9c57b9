"""`/admin/keys`: issue, list, show, change and revoke virtual keys (master key only).

The key itself is in the answer to its creation and nowhere else, ever; afterwards a key is
known by its id and prefix.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.access import AccessScope, ScopeKind, VirtualKey
from calcifer.domain.keys import issue_key, new_id
from calcifer.errors import InvalidRequest, ResourceNotFound
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
    "create_key",
    "existing_key",
    "get_key",
    "issue",
    "key_view",
    "list_keys",
    "model_names",
    "revoke",
    "revoke_key",
    "update_key",
]


async def create_key(request: Request, scope: RequestScope) -> HTTPResponse:
    view = await issue(admin_services(request), json_body(request), model_names(scope))
    return text_money_response(view, status=201)


async def list_keys(request: Request, scope: RequestScope) -> HTTPResponse:
    services = admin_services(request)
    keys = await services.key_store.list_keys(request.args.get("team_id"))
    return text_money_response(
        {"object": "list", "data": [await key_view(services, key, spend=False) for key in keys]}
    )


async def get_key(request: Request, scope: RequestScope, key_id: str) -> HTTPResponse:
    services = admin_services(request)
    return text_money_response(await key_view(services, await existing_key(services, key_id)))


async def update_key(request: Request, scope: RequestScope, key_id: str) -> HTTPResponse:
    view = await change(admin_services(request), key_id, json_body(request), model_names(scope))
    return text_money_response(view)


async def revoke_key(request: Request, scope: RequestScope, key_id: str) -> HTTPResponse:
    return text_money_response(await revoke(admin_services(request), key_id))


# What the handlers and the `calcifer keys` command share.


async def issue(services: AccessServices, body: dict[str, Any], models: set[str]) -> dict[str, Any]:
    """A new key from an admin body; the view includes the key itself (`key`), this once."""
    forms.check_fields(body, forms.KEY_FIELDS)
    issued = issue_key(services.hashing_secret)
    key = VirtualKey(
        id=new_id("key"),
        key_hash=issued.key_hash,
        prefix=issued.prefix,
        name=forms.name_of(body),
        created_at=datetime.now(UTC),
    )
    key = await _with_changes(services, models, key, body)
    await _save(services, key)
    return {**await key_view(services, key), "key": issued.secret}


async def change(
    services: AccessServices, key_id: str, body: dict[str, Any], models: set[str]
) -> dict[str, Any]:
    forms.check_fields(body, forms.KEY_FIELDS)
    key = await existing_key(services, key_id)
    if "name" in body:
        key = dataclasses.replace(key, name=forms.name_of(body))
    key = await _with_changes(services, models, key, body)
    await _save(services, key)
    return await key_view(services, key)


async def revoke(services: AccessServices, key_id: str) -> dict[str, Any]:
    key = await existing_key(services, key_id)
    if key.revoked_at is None:
        key = dataclasses.replace(key, revoked_at=datetime.now(UTC))
        await _save(services, key)
    return await key_view(services, key, spend=False)


async def existing_key(services: AccessServices, key_id: str) -> VirtualKey:
    key = await services.key_store.get_key(key_id)
    if key is None:
        raise ResourceNotFound(f"No key has the id '{key_id}'", param="id")
    return key


async def _save(services: AccessServices, key: VirtualKey) -> None:
    await services.key_store.save_key(key)
    if services.directory is not None:
        await services.directory.apply(key)  # this worker at once; the others at their next refresh


async def key_view(services: AccessServices, key: VirtualKey, spend: bool = True) -> dict[str, Any]:
    now = datetime.now(UTC)
    status = "revoked" if key.revoked_at else ("expired" if not key.usable_at(now) else "active")
    view: dict[str, Any] = {
        "id": key.id,
        "object": "key",
        "name": key.name,
        "prefix": key.prefix,
        "status": status,
        "team_id": key.team_id,
        "user": key.user,
        "models": list(key.models),
        "budget": None,
        "limits": limits_view(key.limits),
        "usage": None,
        "metadata": key.metadata,
        "cache": key.cache,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
    }
    if not spend:
        view["budget"] = None if key.budget is None else budget_summary(key.budget)
        return view
    scope = AccessScope(ScopeKind.KEY, key.id, key.budget, key.limits)
    usage = await scope_usage(services, scope)
    view["usage"] = usage_view(usage)
    if key.budget is not None:
        view["budget"] = await budget_view(services, scope, key.budget, now, usage)
    return view


async def _with_changes(
    services: AccessServices, models: set[str], key: VirtualKey, body: dict[str, Any]
) -> VirtualKey:
    changes: dict[str, Any] = {}
    if "team_id" in body:
        team_id = forms.optional_text(body, "team_id")
        if team_id is not None and await services.key_store.get_team(team_id) is None:
            raise InvalidRequest(f"'team_id': no team '{team_id}'", param="team_id")
        changes["team_id"] = team_id
    if "user" in body:
        changes["user"] = forms.optional_text(body, "user")
    if "models" in body:
        changes["models"] = forms.models_of(body["models"], models)
    if "budget" in body:
        changes["budget"] = forms.budget_of(body["budget"])
    if "limits" in body:
        changes["limits"] = forms.limits_of(body["limits"])
    if "expires_at" in body:
        changes["expires_at"] = forms.time_of(body["expires_at"], "expires_at")
    if "metadata" in body:
        changes["metadata"] = forms.metadata_of(body["metadata"])
    if "cache" in body:
        changes["cache"] = forms.cache_of(body["cache"])
    return dataclasses.replace(key, **changes) if changes else key


def model_names(scope: RequestScope) -> set[str]:
    return {name for model in scope.serving.gateway.models for name in (model.name, *model.aliases)}
