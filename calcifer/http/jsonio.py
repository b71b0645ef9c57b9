"""JSON in and out of the HTTP layer, with orjson; money is written as exact decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from sanic.response import HTTPResponse, raw

from calcifer.domain.pricing import format_usd
from calcifer.errors import InvalidRequest, UnsupportedMediaType

__all__ = ["dumps", "json_response", "loads_object", "require_json", "text_money_response"]


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        # A Fragment is written verbatim: 0.00126 stays 0.00126, never a binary float.
        return orjson.Fragment(format_usd(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _default_text(value: object) -> Any:
    if isinstance(value, Decimal):
        return format_usd(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_default)


def require_json(content_type: str | None) -> None:
    """Refuse a body not declared JSON (`application/json` or `application/*+json`, any case,
    any parameters). A missing Content-Type is refused too: a browser may send a body without
    one to any origin, and curl's `-d` declares a form."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return
    declared = f"'{media_type}'" if media_type else "none"
    raise UnsupportedMediaType(
        f"The request body must be sent with Content-Type: application/json (declared: {declared})",
        param="Content-Type",
    )


def loads_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or `InvalidRequest` saying what is wrong."""
    if not body:
        raise InvalidRequest("The request body is empty; expected a JSON object")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"The request body must be a JSON object, not {type(value).__name__}")
    return value


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    return raw(dumps(body), status=status, headers=headers, content_type="application/json")


def text_money_response(body: object, status: int = 200) -> HTTPResponse:
    """JSON with money as exact decimal strings (`"0.0014"`): the admin API's convention, so
    that no client parses an amount into a binary float."""
    return raw(orjson.dumps(body, default=_default_text), status=status, content_type="application/json")
