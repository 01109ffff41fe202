"""Gateways of our own in front of the running platform's services: one rate limit shared by two
instances through Redis, logins limited per user name whatever the address, Redis restarted
mid-run, trusted proxies, services slow, down, or echoing what they received."""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import redis

from tanhui_shared.settings import REPO_ROOT

from e2e_support import PASSWORD, register_and_login

METRICS_TOKEN = uuid.uuid4().hex
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ok, timeout_s: float = 20, what: str = "ready") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ok():
                return
        except (httpx.HTTPError, redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"not {what} after {timeout_s}s")


class GatewayProcess:
    def __init__(self, platform, log_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        services = {s: f"http://127.0.0.1:{p}" for s, p in platform.service_ports.items()}
        env = {**os.environ, "TANHUI_REDIS_URL": platform.redis_url,
               **{f"TANHUI_{s.upper()}_URL": u for s, u in services.items()},
               **{f"TANHUI_{k.upper()}": v for k, v in settings.items()}}
        self.log = log_dir / f"gateway-{self.port}.log"
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen([sys.executable, "-m", "tanhui_gateway", "--port", str(self.port)],
                                          env=env, stdout=log, stderr=log, cwd=REPO_ROOT)
        # generous: on a loaded 2-core machine a fresh interpreter takes its time to import
        try:
            wait_until(lambda: httpx.get(self.url + "/healthz", timeout=2).status_code == 200,
                       timeout_s=60, what=f"gateway on {self.port} (see {self.log})")
        except TimeoutError:
            self.stop()  # not left running by a test that never got it
            raise

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(timeout=10)


@pytest.fixture(scope="module")
def gateways(platform, tmp_path_factory) -> Iterator:
    started: list[GatewayProcess] = []
    log_dir = tmp_path_factory.mktemp("gateways")

    def start(**settings: str) -> GatewayProcess:
        started.append(GatewayProcess(platform, log_dir, **settings))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


def test_one_limit_holds_across_two_instances_and_every_key_expires(platform, gateways):
    prefix = f"rl{uuid.uuid4().hex[:8]}"
    limits = {"rate_limit_prefix": prefix, "rate_limit_read": "12", "rate_limit_auth": "5",
              "metrics_token": METRICS_TOKEN}
    first, second = gateways(**limits), gateways(**limits)
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        _, auth = register_and_login(gw, "citizen")

    def get(i: int) -> httpx.Response:
        base = (first, second)[i % 2].url
        return httpx.get(base + "/api/v1/me", headers=auth, timeout=10)

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(get, range(40)))
    assert sorted(r.status_code for r in replies).count(200) == 12
    refused = [r for r in replies if r.status_code == 429]
    assert len(refused) == 28
    assert all(int(r.headers["retry-after"]) > 0 and r.headers["ratelimit-remaining"] == "0"
               and r.headers["content-type"] == "application/problem+json" for r in refused)
    assert {r.headers["ratelimit-limit"] for r in replies} == {"12"}

    # Anonymous routes count per client address; a client's own X-Forwarded-For is not believed.
    logins = [httpx.post((first, second)[i % 2].url + "/api/v1/auth/token",
                         data={"username": "nobody", "password": "wrong password"},
                         headers={"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(9)]
    assert [r.status_code for r in logins].count(429) == 4

    store = redis.Redis.from_url(platform.redis_url)
    keys = {k.decode().split(":")[1]: store.ttl(k) for k in store.scan_iter(f"{prefix}:*")}
    # the reads, the address's logins, and the user name's logins (a window of its own)
    assert keys.keys() == {"read", "auth", "login"}
    assert 0 < keys["read"] <= 60 and 0 < keys["auth"] <= 60 and 0 < keys["login"] <= 600
    metrics = httpx.get(first.url + "/metrics", headers=METRICS).text
    assert 'tanhui_gateway_rate_limited_total{rate_class="read"}' in metrics
    assert 'tanhui_gateway_requests_total{method="GET",route="/api/v1/me",status="429"}' in metrics


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_logins_are_limited_per_user_name_whatever_the_address(platform, gateways):
    # Every guess from an address of its own (a trusted proxy names it), so the per-address
    # limit of 3 never applies; the user name's limit of 4 does, whichever way it is spelt.
    gateway = gateways(rate_limit_prefix=f"rl{uuid.uuid4().hex[:8]}", rate_limit_auth="3",
                       rate_limit_login_username="4", trusted_proxies="127.0.0.1/32")
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        user, _ = register_and_login(gw, "citizen")
    name = user["username"]
    spellings = [name, name.upper(), _full_width(name), name[:3] + "\u200b" + name[3:], f" {name}\t"]
    addresses = iter(range(1, 250))

    def attempt(data: dict, **kwargs) -> httpx.Response:
        return httpx.post(gateway.url + "/api/v1/auth/token", data=data, timeout=10,
                          headers={"X-Forwarded-For": f"198.51.100.{next(addresses)}",
                                   **kwargs.pop("headers", {})}, **kwargs)

    guesses = [attempt({"username": spellings[i % 5], "password": f"guess number {i}"})
               for i in range(8)]
    assert [r.status_code for r in guesses] == [401] * 4 + [429] * 4
    refused = guesses[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert refused.headers["content-type"] == "application/problem+json"
    assert "user name" in refused.json()["detail"]
    # until the window closes even the right password waits; other users do not
    assert attempt({"username": name, "password": PASSWORD}).status_code == 429
    assert attempt({"username": f"other-{uuid.uuid4().hex[:8]}", "password": "x" * 12}).status_code == 401

    # Client credentials: the client_id, in the form or by HTTP Basic, is the name counted.
    client_id = f"bus-co-{uuid.uuid4().hex[:8]}"
    basic = "Basic " + base64.b64encode(f"{client_id.upper()}:guess".encode()).decode()
    tries = [attempt({"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": "guess"}) if i % 2 else
             attempt({"grant_type": "client_credentials"}, headers={"Authorization": basic})
             for i in range(6)]
    assert [r.status_code for r in tries] == [401] * 4 + [429] * 2


def test_a_trusted_proxy_names_the_client(platform, gateways):
    behind = gateways(rate_limit_prefix=f"rl{uuid.uuid4().hex[:8]}", rate_limit_auth="2",
                      trusted_proxies="127.0.0.1/32")
    statuses = [httpx.post(behind.url + "/api/v1/auth/token", data={"username": "nobody", "password": "x" * 9},
                           headers={"X-Forwarded-For": f"198.51.100.{i // 2}"}).status_code
                for i in range(6)]
    assert 429 not in statuses  # three clients, two attempts each: each within its own limit


@pytest.fixture
def own_redis(tmp_path) -> Iterator[dict]:
    """A redis-server of this test's own, so restarting it disturbs nobody else."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (deploy/system-packages.sh)"
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path)]
    server = {"argv": argv, "port": port, "popen": None}

    def start() -> None:
        server["popen"] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: redis.Redis(port=port).ping(), what="redis")

    server["start"] = start
    start()
    yield server
    if server["popen"].poll() is None:
        server["popen"].terminate()
        server["popen"].wait(timeout=10)


def test_redis_restarted_mid_run_reads_fail_open_writes_fail_closed(platform, gateways, own_redis):
    gateway = gateways(redis_url=f"redis://127.0.0.1:{own_redis['port']}/0",
                       redis_retry_after_failure_s="0.5")
    login = {"username": "nobody", "password": "wrong password"}

    def read() -> httpx.Response:
        return httpx.get(gateway.url + "/api/v1/factors", timeout=10)

    def write() -> httpx.Response:
        return httpx.post(gateway.url + "/api/v1/auth/token", data=login, timeout=10)

    assert read().headers["ratelimit-limit"] == "600" and write().status_code == 401
    own_redis["popen"].kill()
    own_redis["popen"].wait()
    down_read, down_write = read(), write()
    assert down_read.status_code == 200 and "ratelimit-limit" not in down_read.headers
    assert down_write.status_code == 503
    assert down_write.headers["content-type"] == "application/problem+json"
    assert down_write.headers["retry-after"]
    # still ready: reads pass, and every gateway shares this Redis (pulling them all out would
    # refuse the reads too); the deep check names it
    assert httpx.get(gateway.url + "/readyz").status_code == 200
    deep = httpx.get(gateway.url + "/readyz?deep=true")
    assert deep.status_code == 503 and deep.json()["checks"]["redis"] == "unreachable"

    own_redis["start"]()
    wait_until(lambda: write().status_code == 401, timeout_s=10, what="writes after Redis came back")
    assert read().headers["ratelimit-remaining"]
    assert httpx.get(gateway.url + "/readyz?deep=true").status_code == 200


class EchoService(BaseHTTPRequestHandler):
    """Stands in for a service: echoes the headers it received, or takes its time."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        if "slow" in self.path:
            time.sleep(2)
        body = json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def echo_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_what_a_service_receives_and_when_it_is_slow_or_down(platform, gateways, echo_service):
    gateway = gateways(verification_url=echo_service, credits_url=f"http://127.0.0.1:{free_port()}",
                       upstream_timeout_s="0.5", metrics_token=METRICS_TOKEN)
    seen = httpx.get(gateway.url + "/api/v1/projects/abc", headers={
        "X-User-Id": "admin", "X-User-Role": "admin", "X-Authenticated-User": "admin",
        "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil", "Forwarded": "for=6.6.6.6",
        "X-Real-IP": "6.6.6.6", "X-Request-ID": "mine-12345678", "Accept": "application/json"}).json()
    headers = seen["headers"]
    assert not [h for h in headers if h.startswith(("x-user", "x-authenticated", "x-real-ip", "forwarded"))]
    assert headers["x-forwarded-for"] == "127.0.0.1" and "x-forwarded-host" not in headers
    assert headers["x-request-id"] == "mine-12345678" and headers["accept"] == "application/json"

    slow = httpx.get(gateway.url + "/api/v1/projects/slow", timeout=10)
    assert slow.status_code == 504 and slow.headers["content-type"] == "application/problem+json"
    down = httpx.get(gateway.url + "/api/v1/listings", timeout=10)
    assert down.status_code == 503 and down.json()["request_id"] == down.headers["x-request-id"]
    metrics = httpx.get(gateway.url + "/metrics", headers=METRICS).text
    assert 'tanhui_gateway_upstream_errors_total{kind="timeout",service="verification"} 1.0' in metrics
    assert 'tanhui_gateway_upstream_errors_total{kind="unreachable",service="credits"} 1.0' in metrics
