"""The HTTP surface: routes, middleware and the error handler, attached to an app."""

from __future__ import annotations

from typing import Any

from loguru import logger
from sanic import Request, Sanic
from sanic.handlers import ErrorHandler
from sanic.response import BaseHTTPResponse, HTTPResponse

from calcifer.http import handlers
from calcifer.http.cors import Cors
from calcifer.http.errors import http_error
from calcifer.http.lifecycle import REQUEST_ID_HEADER, assign_request_id, json_response, scoped

__all__ = ["JsonErrorHandler", "register_http"]


def register_http(app: Sanic[Any, Any], cors: Cors) -> None:
    app.add_route(
        scoped("/v1/chat/completions", handlers.chat_completions),
        "/v1/chat/completions",
        methods=["POST"],
        name="chat_completions",
    )
    app.add_route(
        scoped("/v1/completions", handlers.completions),
        "/v1/completions",
        methods=["POST"],
        name="completions",
    )
    app.add_route(scoped("/v1/models", handlers.list_models), "/v1/models", methods=["GET"], name="models")
    app.add_route(
        scoped("/v1/models/<name:path>", handlers.retrieve_model),
        "/v1/models/<name:path>",
        methods=["GET"],
        name="model",
    )
    app.add_route(handlers.health, "/health", methods=["GET"], name="health")
    app.add_route(
        scoped("/admin/reload", handlers.admin_reload), "/admin/reload", methods=["POST"], name="reload"
    )

    # One plain function each way: every middleware Sanic runs costs a few µs per request.
    def on_request(request: Request) -> HTTPResponse | None:
        assign_request_id(request)
        return cors.preflight(request)

    def on_response(request: Request, response: BaseHTTPResponse) -> None:
        _tag_response(request, response)
        cors.decorate(request, response)

    app.register_middleware(on_request, "request")
    app.register_middleware(on_response, "response")
    app.error_handler = JsonErrorHandler()


def _tag_response(request: Request, response: BaseHTTPResponse) -> None:
    request_id = getattr(request.ctx, "request_id", None)
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id


class JsonErrorHandler(ErrorHandler):
    """Everything Sanic itself raises (no route, body too large, timeouts, a bug of ours)
    becomes the same OpenAI-style JSON error; a traceback goes to the log, never out."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        request_id = getattr(request.ctx, "request_id", None) if request is not None else None
        status, body, headers = http_error(exception, request_id)
        if status >= 500:
            logger.opt(exception=exception).bind(request_id=request_id).error("unhandled error")
        return json_response(body, status=status, headers=headers)
