"""Stored Responses API state over HTTP: `GET`/`DELETE /v1/responses/{id}` and
`GET /v1/responses/{id}/input_items`. A response is visible only to the principal that made
it (and to the master key); to anyone else it does not exist."""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.access import Principal
from calcifer.domain.authentication import MASTER
from calcifer.domain.ports import ResponseStore, StoredResponse
from calcifer.errors import InvalidRequest, ResourceNotFound
from calcifer.http.jsonio import json_response
from calcifer.http.scope import RequestScope

__all__ = ["delete_response", "list_input_items", "response_store", "retrieve_response", "visible_response"]

_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}
_MOST_ITEMS = 100


def response_store(request: Request) -> ResponseStore:
    """The worker's store of responses (`calcifer.runtime.access.AccessRuntime`)."""
    store: ResponseStore = request.app.ctx.access.responses
    return store


async def visible_response(
    store: ResponseStore, response_id: str, principal: Principal, param: str | None = None
) -> StoredResponse:
    """The stored response, if this principal may see it; 404 otherwise (unknown, expired,
    deleted, `store: false`, or another key's: all alike, so ids cannot be probed)."""
    stored = await store.load_response(response_id)
    if stored is None or (stored.owner != principal.id and principal is not MASTER):
        raise ResourceNotFound(
            f"Response with id '{response_id[:100]}' not found (unknown, expired or deleted)", param=param
        )
    return stored


async def retrieve_response(request: Request, scope: RequestScope, response_id: str) -> HTTPResponse:
    stored = await visible_response(response_store(request), response_id, scope.principal)
    return json_response(stored.response)


async def delete_response(request: Request, scope: RequestScope, response_id: str) -> HTTPResponse:
    store = response_store(request)
    await visible_response(store, response_id, scope.principal)
    await store.delete_response(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: Request, scope: RequestScope, response_id: str) -> HTTPResponse:
    """The input the response answered (earlier turns included), newest first by default."""
    stored = await visible_response(response_store(request), response_id, scope.principal)
    items = [_listed(item, stored.id, index) for index, item in enumerate(stored.input_items)]
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("'order' must be asc or desc", param="order")
    if order == "desc":
        items.reverse()
    start = _start_after(items, request.args.get("after"))
    limit = _limit(request.args.get("limit"))
    page = items[start : start + limit]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(items),
        }
    )


def _listed(item: dict[str, Any], response_id: str, index: int) -> dict[str, Any]:
    """An input item as listed: with an id (stable: made of the response's and the position)
    and, for a message, content as a list of parts."""
    kind = item.get("type", "message")
    listed = {"type": kind, **item}
    if "id" not in listed:
        listed["id"] = f"{_ID_PREFIXES.get(kind, 'item')}_{response_id.removeprefix('resp_')}_{index}"
    if kind == "message" and isinstance(item.get("content"), str):
        part = "output_text" if item.get("role") == "assistant" else "input_text"
        listed["content"] = [{"type": part, "text": item["content"]}]
    return listed


def _start_after(items: list[dict[str, Any]], after: str | None) -> int:
    if after is None:
        return 0
    for position, item in enumerate(items):
        if item["id"] == after:
            return position + 1
    raise InvalidRequest(f"'after': no item '{after[:100]}' in this response's input", param="after")


def _limit(value: str | None) -> int:
    if value is None:
        return 20
    if not value.isdigit() or not 1 <= int(value) <= _MOST_ITEMS:
        raise InvalidRequest(f"'limit' must be an integer from 1 to {_MOST_ITEMS}", param="limit")
    return int(value)
