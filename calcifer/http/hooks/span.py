"""The request's SERVER span, continuing the caller's `traceparent`; upstream calls are its children.

When no exporter records spans, a request without a `traceparent` gets no SERVER span at all
(it would be dropped unrecorded; making it costs ~12 µs); its upstream calls still carry trace
context of their own. A caller's `traceparent` always gets its span, so a sampled trace stays
sampled through the gateway to the provider.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from sanic import Request

from calcifer.http.scope import CLIENT_CLOSED_REQUEST, RequestScope

__all__ = ["ServerSpan"]

_TRACE_HEADER = "traceparent"


class ServerSpan:
    def __init__(self, tracer: Tracer, recording: bool) -> None:
        self._tracer = tracer
        self._recording = recording

    async def enter(self, request: Request, scope: RequestScope) -> None:
        if not self._recording and _TRACE_HEADER not in request.headers:
            return
        span = scope.span = self._tracer.start_span(
            f"{request.method} {scope.route}",
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "http.route": scope.route,
                "url.path": scope.route,
            },
        )
        # The span is current for the rest of the request's task, so upstream calls nest in it.
        scope.span_token = otel_context.attach(trace.set_span_in_context(span))

    def exit(self, scope: RequestScope) -> None:
        span = scope.span
        if span is None:
            return
        otel_context.detach(scope.span_token)  # type: ignore[arg-type]
        span.set_attribute("http.response.status_code", scope.status)
        span.set_attribute("calcifer.overhead_ms", round(scope.overhead_ms(), 3))
        principal = scope.principal
        if principal.key_id is not None:  # the key's id, never the key
            span.set_attribute("calcifer.key.id", principal.key_id)
            if principal.team_id is not None:
                span.set_attribute("calcifer.team.id", principal.team_id)
        if scope.status >= 500 or scope.status == CLIENT_CLOSED_REQUEST:
            span.set_status(Status(StatusCode.ERROR, scope.error or ""))
        span.end()
