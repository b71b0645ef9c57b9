"""`POST /v1/embeddings`: OpenAI's embeddings, served through the same gateway as chat.

The vectors reach the client in the encoding it asked for (`float`, OpenAI's default, or
`base64` — what the official SDK asks for when its caller names none), with `usage.cost` and
the `X-Calcifer-Cost` header, like every priced answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sanic import Request
from sanic.response import HTTPResponse, raw

from calcifer.domain.lifecycle import lifecycle_headers
from calcifer.formats.embeddings import FLOAT, embeddings_body, parse_embeddings_request
from calcifer.http.api.serving import (
    DEADLINE_HEADER,
    PROVIDER_HEADER,
    USER_HEADER,
    cost_headers,
    deadline_of,
    provider_hint_of,
)
from calcifer.http.jsonio import dumps, loads_object, require_json
from calcifer.http.scope import RequestScope

__all__ = ["embeddings"]


async def embeddings(request: Request, scope: RequestScope) -> HTTPResponse:
    require_json(request.headers.get("content-type"))
    hint = provider_hint_of(request.headers.get(PROVIDER_HEADER))
    asked = parse_embeddings_request(loads_object(request.body), hint)
    deadline = deadline_of(request.headers.get(DEADLINE_HEADER))
    gateway = scope.serving.gateway
    routed = gateway.route(asked)
    await scope.admit(asked, routed, request.headers.get(USER_HEADER))
    priced = await gateway.embed(asked, deadline, scope.principal)
    answer, model = priced.embeddings, priced.model
    headers = scope.served_by(model.name, model.provider_id, priced.attempts)
    headers |= lifecycle_headers(routed, datetime.now(UTC).date())
    scope.priced(answer.usage, priced.cost, priced.upstream_seconds)
    headers |= cost_headers(priced.cost, answer.usage)
    encoding = asked.body.get("encoding_format") or FLOAT
    body = embeddings_body(
        answer.vectors, answer.response_model or model.upstream_model, answer.usage, priced.cost, encoding
    )
    encoded = dumps(body)  # before measuring: encoding is the gateway's time too
    return raw(encoded, headers=headers | scope.overhead_header(), content_type="application/json")
