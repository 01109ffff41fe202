"""The gateway's server span: one per request, continuing the client's W3C trace context only
when it is well-formed (else a new trace).

Its attributes take a bounded set of values whatever clients send (the route label of
observability.py, never the path with its ids; the method, or OTHER; the status), so spans can
be grouped on them. The services' server spans are FastAPI's own (tanhui_shared.tracing).
"""
from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tanhui_shared.tracing import remote_parent, start_span

from .observability import SCOPE_KEY, method_label


class TraceRequests:
    """Outside ObserveRequests, so its span is current for the access-log line."""

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
        method = method_label(scope["method"])
        # attributes all set once at the end: each call cleans and copies them (the SDK's cost)
        span = start_span(method, context=remote_parent(traceparent, tracestate),
                          kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span))
        status = 500

        async def traced_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, traced_send)
        finally:
            route = scope[SCOPE_KEY]["route"]  # left there by ObserveRequests and the layers in it
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.request.method": method, "http.route": route,
                                 "http.response.status_code": status})
            if status >= 500:
                span.set_status(StatusCode.ERROR)
            otel_context.detach(token)
            span.end()


def call_span(method: str, route: str, host: str, port: int) -> Span:
    """The client span of the call to a service (a child of the request's); the service
    continues its context (`traceparent_of(span)` in the request). The caller ends it."""
    return start_span(f"{method} {route}", kind=SpanKind.CLIENT, attributes={
        "http.request.method": method, "http.route": route, "server.address": host,
        "server.port": port})
