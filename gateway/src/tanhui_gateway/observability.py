"""One JSON access-log line per request and the Prometheus metrics behind /metrics."""
from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("tanhui_gateway.access")

# Where the gateway's inner layers leave what the access log and metrics report.
SCOPE_KEY = "tanhui.gateway"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tanhui_gateway_requests_total",
                                "Requests answered, by route template, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("tanhui_gateway_request_duration_seconds",
                                 "Time from request to the response's first byte, by route",
                                 ["route", "method"], registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.upstream_errors = Counter("tanhui_gateway_upstream_errors_total",
                                       "Requests a service did not answer, by service and kind",
                                       ["service", "kind"], registry=self.registry)
        self.rate_limited = Counter("tanhui_gateway_rate_limited_total",
                                    "Requests refused with 429, by rate-limit class",
                                    ["rate_class"], registry=self.registry)
        self.limiter_unavailable = Counter("tanhui_gateway_rate_limiter_unavailable_total",
                                           "Requests seen while Redis was unavailable, by outcome",
                                           ["outcome"], registry=self.registry)


class ObserveRequests:
    """Outermost but for the request id: times every request, logs it once, counts it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = scope.get("client")
        facts: dict = {"route": "unmatched", "sub": None, "client": client[0] if client else None}
        scope[SCOPE_KEY] = facts
        status = 500
        first_byte = None

        async def observed_send(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            duration = (first_byte or time.perf_counter()) - started
            route = facts["route"]
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(duration)
            access_log.info("%s %s %s", method, route, status, extra={"fields": {
                "method": method, "route": route, "status": status,
                "duration_ms": round(duration * 1000, 2), "user": facts["sub"],
                "client": facts.get("client"),
            }})
