"""The metrics port: GET /metrics for Prometheus and, for a relay or consumer, its probes.

`/livez` is 200 while the worker's loop turns: it beat within `stall_s` (a loop waiting for an
absent database or broker still beats: restarting it would not bring them back). `/readyz` is
200 when it is live and the database and Kafka answered the last time the loop asked them.
Answers come from threads of their own, never from the worker's loop, so a stuck loop is seen.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from . import REGISTRY

LAST_PROGRESS = Gauge("tanhui_worker_last_progress_timestamp_seconds",
                      "When the worker's loop last turned (Unix time)", ["service", "worker"],
                      registry=REGISTRY)
DEPENDENCY_UP = Gauge("tanhui_worker_dependency_up",
                      "1 if the dependency answered the loop's last request, 0 if it failed",
                      ["service", "worker", "dependency"], registry=REGISTRY)
DEPENDENCIES = ("database", "kafka")


class Health:
    """What the loop last saw, written by the loop's thread and read by the probes'."""

    def __init__(self, service: str, worker: str, stall_s: float) -> None:
        self.service, self.worker, self.stall_s = service, worker, stall_s
        self.started = time.monotonic()
        self.last_beat: float | None = None
        self.seen: dict[str, tuple[bool, str]] = {}  # dependency -> (answered, why not)
        self._progress = LAST_PROGRESS.labels(service, worker)

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        self._progress.set_to_current_time()

    def saw(self, dependency: str, ok: bool, detail: str = "") -> None:
        self.seen[dependency] = (ok, detail)
        DEPENDENCY_UP.labels(self.service, self.worker, dependency).set(1 if ok else 0)

    def liveness(self) -> tuple[bool, dict]:
        since = time.monotonic() - (self.last_beat or self.started)
        live = since < self.stall_s
        return live, {"status": "live" if live else "stalled", "loop_idle_s": round(since, 1),
                      "stall_s": self.stall_s}

    def readiness(self) -> tuple[bool, dict]:
        live, body = self.liveness()
        deps = {name: ("ok" if self.seen[name][0] else f"failed: {self.seen[name][1]}")
                if name in self.seen else "not seen yet" for name in DEPENDENCIES}
        ready = live and all(value == "ok" for value in deps.values())
        return ready, {**body, "status": "ready" if ready else "not ready", **deps}


def serve(host: str, port: int, health: Health | None = None) -> ThreadingHTTPServer:
    """Starts the port in a daemon thread; `health` adds /livez and /readyz."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a stalled scraper does not keep its thread

        def do_GET(self) -> None:  # noqa: N802 - http.server's protocol
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif health is not None and path in ("/livez", "/readyz"):
                ok, body = health.liveness() if path == "/livez" else health.readiness()
                self._answer(200 if ok else 503, json.dumps(body).encode(), "application/json")
            else:
                self._answer(404, b'{"status": "no such path"}', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass  # probes and scrapes are not access-logged

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-port", daemon=True).start()
    return server
