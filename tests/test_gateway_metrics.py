"""The gateway's metrics under attack, on a gateway process started as in production: unknown
paths and made-up methods do not grow /metrics, anonymous clients cannot read it, and scrapes
do not slow the gateway's other answers (they used to take /healthz from 13 ms to 2.5 s).
"""
from __future__ import annotations

import re
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from test_gateway_support import free_port, start_gateway  # noqa: F401

TOKEN = uuid.uuid4().hex
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SERIES = re.compile(r'^tanhui_gateway_requests_total\{method="([^"]*)",route="([^"]*)",'
                    r'status="(\d+|other)"\}', re.MULTILINE)


@pytest.fixture(scope="module")
def gateway(start_gateway):
    port = free_port()
    gateway = start_gateway(gateway_metrics_port=str(port), metrics_token=TOKEN)
    gateway.scrape_url = f"http://127.0.0.1:{port}/metrics"
    return gateway


def test_metrics_are_not_served_to_anonymous_public_clients(gateway, start_gateway):
    anonymous = httpx.get(gateway.url + "/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.headers["content-type"] == "application/problem+json"
    wrong = httpx.get(gateway.url + "/metrics", headers={"Authorization": "Bearer " + "0" * 32})
    assert wrong.status_code == 401
    with_token = httpx.get(gateway.url + "/metrics", headers=BEARER)
    assert with_token.status_code == 200 and "tanhui_gateway_requests_total" in with_token.text
    assert "tanhui_gateway_requests_total" in httpx.get(gateway.scrape_url).text
    # Neither a scrape port nor a token configured: no /metrics anywhere.
    plain = start_gateway()
    assert httpx.get(plain.url + "/metrics", headers=BEARER).status_code == 404


def test_unknown_paths_and_made_up_methods_share_a_few_series(gateway):
    def attack(i: int) -> int:
        kind = i % 4
        if kind == 0:
            return client.get(f"/x-{uuid.uuid4().hex}").status_code             # gateway's own
        if kind == 1:
            return client.get(f"/api/v1/x-{uuid.uuid4().hex}").status_code     # proxied prefix
        if kind == 2:
            return client.request(f"M{uuid.uuid4().hex[:12].upper()}", "/healthz").status_code
        return client.request(f"Q{i}", f"/api/v1/y-{i}").status_code

    with httpx.Client(base_url=gateway.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attack, range(2000)))
    assert set(statuses) <= {404, 405}, set(statuses)
    text = httpx.get(gateway.scrape_url).text
    series = SERIES.findall(text)
    assert {route for _, route, _ in series} <= {"unmatched", "/healthz", "/metrics"}, series
    assert {method for method, _, _ in series} <= {"GET", "OTHER"}, series
    assert len(series) <= 10
    assert len(text) < 32 * 1024
    print(f"\n[gateway:metrics] after 2,000 requests to unknown paths and methods: "
          f"/metrics {len(text):,} bytes, {len(series)} request series")


def _p50_ms(url: str, samples: int) -> tuple[float, float]:
    timings = []
    with httpx.Client(timeout=30) as client:
        for _ in range(samples):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings)


def _healthz_during_bursts(gateway, path: str, headers: dict, status: int,
                          rounds: int = 12) -> tuple[float, float]:
    """/healthz p50 and max (ms), each asked while 20 concurrent GETs of `path` are in flight
    (the issue's measure: one /healthz behind 20 /metrics calls)."""
    timings = []
    with ThreadPoolExecutor(20) as pool, httpx.Client(timeout=30) as probe, \
            httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as callers:
        for _ in range(rounds):
            burst = [pool.submit(callers.get, path, headers=headers) for _ in range(20)]
            time.sleep(0.05)  # the 20 calls are on their way
            started = time.perf_counter()
            assert probe.get(gateway.url + "/healthz").status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
            assert {running.result().status_code for running in burst} == {status}
    return statistics.median(timings), max(timings)


def test_twenty_concurrent_metrics_calls_do_not_slow_healthz(gateway):
    quiet_p50, _ = _p50_ms(gateway.url + "/healthz", 20)
    figures = {
        "anonymous": _healthz_during_bursts(gateway, gateway.url + "/metrics", {}, 401),
        "with the token": _healthz_during_bursts(gateway, gateway.url + "/metrics", BEARER, 200),
        "scrape port": _healthz_during_bursts(gateway, gateway.scrape_url, {}, 200),
    }
    print(f"\n[gateway:metrics] /healthz p50 {quiet_p50:.1f} ms alone; behind 20 concurrent "
          "/metrics calls: " + "; ".join(f"{how} p50 {p50:.1f} ms (max {worst:.0f})"
                                         for how, (p50, worst) in figures.items()))
    # Generous: before, /healthz waited for 20 renderings of 4.5 MB on the event loop (2.5 s in
    # the issue; p50 75 s here under a load average of 10). The quiet figure scales the bound
    # on a machine that is slow for other reasons.
    bound = max(250.0, 4 * quiet_p50)
    assert all(p50 < bound for p50, _ in figures.values()), (bound, figures)
