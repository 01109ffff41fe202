"""A service's server span: one per request, named by the route template FastAPI matched,
continuing the caller's W3C trace context only when it is well-formed (else a new trace).

FastAPI's own telemetry made the same span for ~60-100 us a request (a Headers object and the
propagator's parsing, attributes built and cleaned by the SDK even for a span nothing records,
two context attachments, wrappers of receive and send); this layer makes it with
tracing.start_span, which costs a few microseconds while nothing is recorded, and builds the
attributes only for a span that is.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..tracing import NO_FASTAPI_TELEMETRY, remote_parent, start_span

# as FastAPI's telemetry (and OpenTelemetry's HTTP conventions): another method is _OTHER, and
# its span is named HTTP
_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
                      "QUERY", "TRACE"})


class ServerSpans:
    """Outermost, around Starlette's error middleware: a 500's log line (the problem handler's
    "unhandled error") is written inside the span and carries its ids."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = tracestate = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
        method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
        label = "HTTP" if method == "_OTHER" else method
        span = start_span(label, context=remote_parent(traceparent, tracestate),
                          kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span))
        status: int | None = None
        error: BaseException | None = None

        async def traced_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, traced_send)
        except BaseException as exc:
            error = exc
            raise
        finally:
            route = getattr(scope.get("route"), "path_format", None)
            if route is not None:
                span.update_name(f"{label} {route}")
            failed = error is not None or status is None or status >= 500
            if span.is_recording():
                span.set_attributes(_attributes(scope, method, route, status, failed, error))
                if failed:
                    span.set_status(StatusCode.ERROR)
            otel_context.detach(token)
            span.end()


def _attributes(scope: Scope, method: str, route: str | None, status: int | None,
                failed: bool, error: BaseException | None) -> dict[str, Any]:
    """OpenTelemetry's HTTP server span attributes, as FastAPI's telemetry set them."""
    attributes: dict[str, Any] = {"http.request.method": method,
                                  "url.scheme": scope.get("scheme", "http"),
                                  "url.path": scope["path"]}
    if method == "_OTHER":
        attributes["http.request.method_original"] = scope["method"]
    if scope.get("http_version"):
        attributes["network.protocol.version"] = scope["http_version"]
    if route is not None:
        attributes["http.route"] = route
    if status is not None:
        attributes["http.response.status_code"] = status
    if failed:
        attributes["error.type"] = (type(error).__qualname__ if error is not None
                                    else str(status or "incomplete_response"))
    return attributes


class TracedFastAPI(FastAPI):
    """A service's app: its server spans are ServerSpans', not FastAPI's telemetry."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(telemetry=NO_FASTAPI_TELEMETRY, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return ServerSpans(super().build_middleware_stack())
