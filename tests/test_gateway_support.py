"""Support for the gateway's process tests: a gateway started the way production starts it
(`python -m tanhui_gateway`, uvicorn with the gateway's protocol class), in front of services
that may be down, on the real Redis; raw sockets for clients that misbehave.

(No tests here; they are in test_gateway_metrics.py, test_gateway_slow_clients.py,
test_gateway_security_headers.py and test_gateway_observability.py.)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tanhui_shared.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway:
    """One gateway process. Services default to ports nobody listens on: what is tested here is
    decided before a request would be forwarded (a forwarded one is a 503)."""

    def __init__(self, log_dir: Path, redis_url: str, services: dict[str, str] | None = None,
                 **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        services = services or {s: f"http://127.0.0.1:{free_port()}"
                                for s in ("accounts", "verification", "credits")}
        env = {**os.environ, "TANHUI_REDIS_URL": redis_url,
               "TANHUI_RATE_LIMIT_PREFIX": f"gw{uuid.uuid4().hex[:8]}",
               **{f"TANHUI_{s.upper()}_URL": u for s, u in services.items()},
               **{f"TANHUI_{k.upper()}": v for k, v in settings.items()}}
        self.log = log_dir / f"gateway-{self.port}.log"
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tanhui_gateway", "--port", str(self.port)],
                env=env, stdout=log, stderr=log, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"the gateway exited: {self.log.read_text()[-2000:]}"
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()  # not left running by a test that never got it
        raise TimeoutError(f"gateway on {self.port} not up (see {self.log})")

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(timeout=10)


@pytest.fixture(scope="module")
def start_gateway(infra, tmp_path_factory) -> Iterator:
    """`start_gateway(**settings)` -> a running Gateway, stopped after the module."""
    started: list[Gateway] = []
    log_dir = tmp_path_factory.mktemp("gateways")

    def start(services: dict[str, str] | None = None, **settings: str) -> Gateway:
        started.append(Gateway(log_dir, infra.redis_url, services, **settings))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and the seconds that took
    (the socket stays open at most `limit_s`, then what came so far is returned)."""
    started = time.monotonic()
    received = b""
    sock.settimeout(0.05)
    while time.monotonic() - started < limit_s:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started


def trickle(sock: socket.socket, data: bytes, every_s: float, limit_s: float) -> tuple[bytes, float]:
    """Send `data` one byte every `every_s` seconds, as a slowloris client does, until the
    server answers or closes: (what it sent back, seconds from the first byte)."""
    started = time.monotonic()
    received = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        sock.settimeout(every_s)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            chunk = None
        except ConnectionResetError:
            break
        if chunk == b"":
            break
        if chunk:
            received += chunk
            rest, _ = read_until_closed(sock, limit_s)
            return received + rest, time.monotonic() - started
        if time.monotonic() - started > limit_s:
            break
    return received, time.monotonic() - started


def read_answer(sock: socket.socket, timeout_s: float = 10) -> bytes:
    """One answer with a Content-Length, read to its end (the connection may stay open)."""
    sock.settimeout(timeout_s)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of an answer"
        body += chunk
    return head + b"\r\n\r\n" + body
