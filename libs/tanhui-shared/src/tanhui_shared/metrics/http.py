"""Request count and latency of a service's API, by route template, method and status.

The route is the template FastAPI matched (`/api/v1/projects/{project_id}`), never the concrete
path, and `unmatched` for any path no route has: clients cannot grow the number of series.
"""
from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import LATENCY_BUCKETS, REGISTRY
from .server import serve

UNMATCHED = "unmatched"
# RFC 9110's methods and PATCH (RFC 5789); any other token is counted as OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                     "PATCH"})

REQUESTS = Counter("tanhui_http_requests_total",
                   "Requests a service's API answered, by route template, method and status",
                   ["service", "route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("tanhui_http_request_duration_seconds",
                    "Time from request to the response's first byte, by route template",
                    ["service", "route", "method"], buckets=LATENCY_BUCKETS, registry=REGISTRY)


class RequestMetrics:
    """Pure ASGI (no BaseHTTPMiddleware): the router writes the matched route into the scope it
    is handed, which is this very dict, so it is there once the app returns."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, first_byte = 500, None

        async def observed_send(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status, first_byte = message["status"], time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            REQUESTS.labels(self.service, route, method, str(status)).inc()
            LATENCY.labels(self.service, route, method).observe(
                (first_byte or time.perf_counter()) - started)


def instrument_app(app: FastAPI, service: str, host: str, port: int | None) -> None:
    """Counts every request of `app`; with a port, serves the registry there (the API process
    is one uvicorn worker, which makes its app once)."""
    app.add_middleware(RequestMetrics, service=service)
    if port is not None:
        app.state.metrics_server = serve(host, port)
