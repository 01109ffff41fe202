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
    # paths: 404; a method the HTTP parser (httptools) does not know is refused by the protocol
    # with its plain 400 before the app, so it adds no series at all
    assert set(statuses[0::4] + statuses[1::4]) == {404}, set(statuses)
    assert set(statuses[2::4] + statuses[3::4]) <= {400, 405}, set(statuses)
    text = httpx.get(gateway.scrape_url).text
    series = SERIES.findall(text)
    assert {route for _, route, _ in series} <= {"unmatched", "/healthz", "/metrics"}, series
    assert {method for method, _, _ in series} <= {"GET", "OTHER"}, series
    assert len(series) <= 10
    assert len(text) < 32 * 1024
    print(f"\n[gateway:metrics] after 2,000 requests to unknown paths and methods: "
          f"/metrics {len(text):,} bytes, {len(series)} request series")


def _healthz_during_bursts(gateway, bursts: dict[str, tuple[str, dict, int]],
                          rounds: int = 12) -> dict[str, tuple[float, float]]:
    """/healthz p50 and max (ms) for each kind of burst, each asked while 20 concurrent GETs are
    in flight (the issue's measure: one /healthz behind 20 /metrics calls). The kinds take turns
    round by round, so a machine that is busy for other reasons slows them all alike."""
    timings: dict[str, list[float]] = {how: [] for how in bursts}
    with ThreadPoolExecutor(20) as pool, httpx.Client(timeout=30) as probe, \
            httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as callers:
        for _ in range(rounds):
            for how, (url, headers, status) in bursts.items():
                burst = [pool.submit(callers.get, url, headers=headers) for _ in range(20)]
                time.sleep(0.05)  # the 20 calls are on their way
                started = time.perf_counter()
                assert probe.get(gateway.url + "/healthz").status_code == 200
                timings[how].append((time.perf_counter() - started) * 1000)
                assert {running.result().status_code for running in burst} == {status}
    return {how: (statistics.median(t), max(t)) for how, t in timings.items()}


def test_twenty_concurrent_metrics_calls_do_not_slow_healthz(gateway):
    figures = _healthz_during_bursts(gateway, {
        # the control: 20 concurrent calls that cost the gateway next to nothing
        "/healthz": (gateway.url + "/healthz", {}, 200),
        "anonymous": (gateway.url + "/metrics", {}, 401),
        "with the token": (gateway.url + "/metrics", BEARER, 200),
        "scrape port": (gateway.scrape_url, {}, 200),
    })
    print("\n[gateway:metrics] /healthz behind 20 concurrent calls: "
          + "; ".join(f"{how} p50 {p50:.1f} ms (max {worst:.0f})"
                      for how, (p50, worst) in figures.items()))
    # Before, /healthz waited for 20 renderings of 4.5 MB on the event loop: 2.5 s in the issue
    # against 13 ms alone, 200 times. Compared with the control measured in the same rounds (the
    # second worker of `make test` loads the machine unevenly, 100 ms for a quiet /healthz has
    # been seen), a scrape may cost /healthz at most 3 times the control, or 150 ms more.
    control, _ = figures.pop("/healthz")
    bound = max(3 * control, control + 150.0)
    assert all(p50 < bound for p50, _ in figures.values()), (control, bound, figures)
