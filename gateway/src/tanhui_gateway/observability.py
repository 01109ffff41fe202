"""One JSON access-log line per request and the Prometheus metrics behind /metrics.

Every label takes a bounded set of values, whatever clients send: routes are the table's
templates, the gateway's own paths, or `unmatched`; methods outside RFC 9110's and PATCH are
`OTHER`; a status is the three-digit code answered.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio.to_thread
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("tanhui_gateway.access")

# Where the gateway's inner layers leave what the access log and metrics report.
SCOPE_KEY = "tanhui.gateway"
UNMATCHED = "unmatched"
# RFC 9110 §9.3's methods and PATCH (RFC 5789); any other token a client sends is counted as OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                     "PATCH"})


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


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
        facts: dict = {"route": UNMATCHED, "sub": None, "client": client[0] if client else None}
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
            method = method_label(scope["method"])
            self.metrics.requests.labels(route, method, status_label(status)).inc()
            self.metrics.latency.labels(route, method).observe(duration)
            access_log.info("%s %s %s", method, route, status, extra={"fields": {
                "method": method, "route": route, "status": status,
                "duration_ms": round(duration * 1000, 2), "user": facts["sub"],
                "client": facts.get("client"),
            }})


class Exposition:
    """The registry as Prometheus text, rendered in a thread (never on the event loop) and one
    rendering at a time, whichever way it is asked for: so however many scrapes arrive, the
    event loop shares the interpreter with at most one rendering thread."""

    def __init__(self, registry: CollectorRegistry, token: str) -> None:
        self.registry = registry
        self.token = token.encode()
        self._rendering = threading.Lock()

    def authorized(self, authorization: str | None) -> bool:
        scheme, _, presented = (authorization or "").partition(" ")
        return bool(self.token) and scheme.lower() == "bearer" and \
            hmac.compare_digest(presented.strip().encode(), self.token)

    def render_in_thread(self) -> bytes:
        with self._rendering:
            return generate_latest(self.registry)

    async def render(self) -> bytes:
        return await anyio.to_thread.run_sync(self.render_in_thread)

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        """The scrape port: GET /metrics answered from threads of its own, off the event loop."""
        exposition = self

        class Scrape(BaseHTTPRequestHandler):
            timeout = 10  # seconds a read may take: a stalled scraper does not keep its thread

            def do_GET(self) -> None:  # noqa: N802 - http.server's protocol
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exposition.render_in_thread()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass  # scrapes are not access-logged

        server = ThreadingHTTPServer((host, port), Scrape)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="metrics-port", daemon=True).start()
        return server
