"""One JSON access-log line per request and the Prometheus metrics behind /metrics.

Every label takes a bounded set of values, whatever clients send: routes are the table's
templates, the gateway's own paths, or `unmatched`; methods outside RFC 9110's and PATCH are
`OTHER`; a status is the three-digit code answered.
"""
from __future__ import annotations

import asyncio
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
_ATOMIC_WRITE = 4096  # PIPE_BUF on Linux

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
        self._series: dict[tuple[str, str, int], tuple] = {}

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
            # the series of a label set, looked up once (labels() validates and locks each call);
            # the label values are bounded, so is this
            series = self._series.get((route, method, status))
            if series is None:
                series = self._series[route, method, status] = (
                    self.metrics.requests.labels(route, method, status_label(status)),
                    self.metrics.latency.labels(route, method))
            series[0].inc()
            series[1].observe(duration)
            if access_log.isEnabledFor(logging.INFO):
                # the record made and handled as `info` would, less its search of the stack
                # for the caller's file and line, which no line of ours shows
                access_log.handle(access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0, "%s %s %s", (method, route, status),
                    None, "__call__", {"fields": {
                        "method": method, "route": route, "status": status,
                        "duration_ms": round(duration * 1000, 2), "user": facts["sub"],
                        "client": facts.get("client"),
                    }}))


class BufferedLines(logging.StreamHandler):
    """The access log's handler: lines formatted as every other line of the process, but the
    lines of a moment written together, at most `delay_s` after the first of them, instead of a
    write(2) and a flush for each request (the event loop's thread is the only one logging
    here). What is still held at exit is written by logging's own shutdown (flush)."""

    def __init__(self, stream, formatter: logging.Formatter | None, delay_s: float = 0.1,
                 max_lines: int = 256) -> None:
        super().__init__(stream)
        self.setFormatter(formatter)
        self.delay_s = delay_s
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._due = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging's own rule: report, never raise
            self.handleError(record)
            return
        if len(self._lines) >= self.max_lines:
            self.flush()
        elif not self._due:
            try:
                asyncio.get_running_loop().call_later(self.delay_s, self.flush)
                self._due = True
            except RuntimeError:  # no event loop (a test calling the layer directly)
                self.flush()

    def flush(self) -> None:
        with self.lock:
            self._due = False
            lines, self._lines = self._lines, []
            chunk: list[str] = []
            size = 0
            for line in lines:
                # writes of at most PIPE_BUF bytes: on a pipe shared by several workers they
                # are atomic, so no other worker's line lands inside one of ours
                if chunk and size + len(line) + 1 > _ATOMIC_WRITE:
                    self._write(chunk)
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line.encode()) + 1
            if chunk:
                self._write(chunk)

    def _write(self, lines: list[str]) -> None:
        self.stream.write("\n".join(lines) + "\n")
        super().flush()


def buffer_access_log() -> None:
    """The access log through BufferedLines, on the stream and format of the root's handler."""
    root = logging.getLogger().handlers[0]
    access_log.handlers[:] = [BufferedLines(getattr(root, "stream", None), root.formatter)]
    access_log.propagate = False


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
