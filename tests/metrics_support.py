"""Starting a service's relay or consumer as a real process and reading its metrics port."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tanhui_shared.settings import REPO_ROOT

KEY_FILE = REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    """`python -m tanhui_<service>.<kind>` with its metrics port; its log in `log_dir`."""

    def __init__(self, service: str, kind: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log_dir / f"{service}-{kind}-{self.port}.log"
        full_env = {**os.environ, "TANHUI_ENV": "test", "TANHUI_JWT_PRIVATE_KEY_FILE": str(KEY_FILE),
                    "TANHUI_METRICS_PORT": str(self.port), **env}
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen([sys.executable, "-m", f"tanhui_{service}.{kind}"],
                                          env=full_env, cwd=REPO_ROOT, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def probe(self, path: str) -> tuple[int, dict]:
        reply = self.get(path)
        return reply.status_code, json.loads(reply.text)

    def scrape(self) -> dict[tuple[str, tuple], float]:
        return scrape(self.url + "/metrics")

    def answering(self) -> bool:
        assert self.popen.poll() is None, f"exited; see {self.log}:\n{self.log.read_text()[-3000:]}"
        try:
            return self.get("/livez").status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    reply = httpx.get(url, timeout=5)
    assert reply.status_code == 200, reply.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= set(lbls))


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"not within {timeout_s:.0f}s: {what}")
