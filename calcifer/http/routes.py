"""The HTTP surface: routes, the pipeline around API routes, and the error handler."""

from __future__ import annotations

from typing import Any

from loguru import logger
from sanic import Request, Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.handlers import ErrorHandler
from sanic.response import BaseHTTPResponse, HTTPResponse

from calcifer import errors
from calcifer.formats.anthropic_messages import anthropic_error
from calcifer.http.admin import keys, spend, stats, teams
from calcifer.http.admin.reload import admin_reload
from calcifer.http.api.anthropic_messages import count_tokens, messages
from calcifer.http.api.completions import completions
from calcifer.http.api.embeddings import embeddings
from calcifer.http.api.health import health
from calcifer.http.api.metrics import metrics
from calcifer.http.api.models import list_models, retrieve_model
from calcifer.http.api.openai_chat import chat_completions
from calcifer.http.api.openai_responses import create_response
from calcifer.http.api.openai_responses_state import delete_response, list_input_items, retrieve_response
from calcifer.http.errors import ErrorShape, RequestHeadTooLarge, http_error, openai_shape
from calcifer.http.hooks.cors import Cors
from calcifer.http.hooks.request_id import RequestId
from calcifer.http.jsonio import json_response
from calcifer.http.pipeline import Handler, Pipeline
from calcifer.http.request import is_stand_in
from calcifer.telemetry.request_log import RequestLog

__all__ = ["JsonErrorHandler", "register_http"]

# path, methods, route name, handler
_API_ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    ("/v1/chat/completions", "POST", "chat_completions", chat_completions),
    ("/v1/completions", "POST", "completions", completions),
    ("/v1/embeddings", "POST", "embeddings", embeddings),
    ("/v1/responses", "POST", "responses", create_response),
    ("/v1/responses/<response_id>", "GET", "retrieve_response", retrieve_response),
    ("/v1/responses/<response_id>", "DELETE", "delete_response", delete_response),
    ("/v1/responses/<response_id>/input_items", "GET", "response_input_items", list_input_items),
    ("/v1/messages", "POST", "messages", messages),
    ("/v1/messages/count_tokens", "POST", "count_tokens", count_tokens),
    ("/v1/models", "GET", "models", list_models),
    ("/v1/models/<name:path>", "GET", "model", retrieve_model),
    ("/admin/reload", "POST", "reload", admin_reload),
    ("/admin/keys", "POST", "create_key", keys.create_key),
    ("/admin/keys", "GET", "list_keys", keys.list_keys),
    ("/admin/keys/<key_id>", "GET", "get_key", keys.get_key),
    ("/admin/keys/<key_id>", "PATCH", "update_key", keys.update_key),
    ("/admin/keys/<key_id>", "DELETE", "revoke_key", keys.revoke_key),
    ("/admin/teams", "POST", "create_team", teams.create_team),
    ("/admin/teams", "GET", "list_teams", teams.list_teams),
    ("/admin/teams/<team_id>", "GET", "get_team", teams.get_team),
    ("/admin/teams/<team_id>", "PATCH", "update_team", teams.update_team),
    ("/admin/teams/<team_id>", "DELETE", "delete_team", teams.delete_team),
    ("/admin/spend", "GET", "spend", spend.spend),
    ("/admin/requests", "GET", "requests", spend.list_requests),
    ("/admin/stats", "GET", "stats", stats.admin_stats),
)


# Routes whose clients expect errors in their own dialect's shape, by path prefix; every
# other route answers in the gateway's own (OpenAI's) shape. Sanic's own refusals (a body too
# large, too slow) on these paths are shaped the same way.
_ERROR_SHAPES: tuple[tuple[str, ErrorShape], ...] = (("/v1/messages", anthropic_error),)


def error_shape(path: str) -> ErrorShape:
    for prefix, shape in _ERROR_SHAPES:
        if path.startswith(prefix):
            return shape
    return openai_shape


def register_http(
    app: Sanic[Any, Any], pipeline: Pipeline, cors: Cors, metrics_path: str | None = None
) -> None:
    for path, method, name, handler in _API_ROUTES:
        app.add_route(pipeline.wrap(path, handler, error_shape(path)), path, methods=[method], name=name)
    app.add_route(health, "/health", methods=["GET"], name="health")
    if metrics_path is not None:
        app.add_route(metrics, metrics_path, methods=["GET"], name="metrics")

    # The edge of the pipeline, on every response (404s too): one plain function each way,
    # because every middleware Sanic runs costs a few µs per request.
    request_id = RequestId()

    def on_request(request: Request) -> HTTPResponse | None:
        request_id.assign(request)
        return cors.preflight(request)

    def on_response(request: Request, response: BaseHTTPResponse) -> None:
        request_id.tag(request, response)
        cors.decorate(request, response)

    app.register_middleware(on_request, "request")
    app.register_middleware(on_response, "response")
    app.error_handler = JsonErrorHandler()


class JsonErrorHandler(ErrorHandler):
    """Everything Sanic itself raises (no route, body too large, timeouts, a bug of ours)
    becomes the same OpenAI-style JSON error; a traceback goes to the log, never out."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        request_id = getattr(request.ctx, "request_id", None) if request is not None else None
        if isinstance(exception, PayloadTooLarge):
            exception = _too_large(request, exception)
        status, body, headers = http_error(exception, request_id)
        if status >= 500:
            logger.opt(exception=exception).bind(request_id=request_id).error("unhandled error")
        if request is not None and not getattr(request.ctx, "piped", False):
            _log_unpiped(request, request_id, status, body["error"]["code"])
        shape = error_shape(request.path) if request is not None else openai_shape
        return json_response(shape(status, body), status=status, headers=headers)


def _too_large(request: Request | None, exception: PayloadTooLarge) -> Exception:
    if is_stand_in(request):
        # Sanic stopped reading the head, not the body: that is a 431, not a 413.
        return RequestHeadTooLarge()
    if request is None:
        return exception
    limit = request.app.config.REQUEST_MAX_SIZE
    return errors.PayloadTooLarge(
        f"The request body is larger than this gateway accepts (at most {limit} bytes)"
    )


def _log_unpiped(request: Request, request_id: str | None, status: int, code: str) -> None:
    """A request refused before it reached its route's pipeline (no route, a body too large,
    too slow) still gets its request log line."""
    log: RequestLog | None = getattr(request.app.ctx, "request_log", None)
    if log is None or is_stand_in(request):
        return
    fields = {"request_id": request_id, "route": request.path[:200], "status": status, "error": code}
    log.write("INFO" if status < 500 else "ERROR", fields)
