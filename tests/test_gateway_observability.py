"""What the platform's gateway tells operators and clients: access log, metrics (on a scrape port
of their own), readiness, the merged API description, CORS for the console only."""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from e2e_support import register_and_login
from test_gateway_support import free_port, start_gateway  # noqa: F401


@pytest.fixture(scope="module")
def gw(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        yield client


def test_one_json_access_log_line_per_request_with_the_route_template(platform, gw):
    user, auth = register_and_login(gw, "citizen")
    request_id = f"log-{uuid.uuid4().hex}"
    project = f"/api/v1/projects/{uuid.uuid4()}"
    assert gw.get(project, headers={**auth, "X-Request-ID": request_id}).status_code == 404
    log = platform.var_dir / "logs" / "gateway.log"
    lines = []
    deadline = time.monotonic() + 5
    while not lines and time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines()
                 if request_id in line and '"tanhui_gateway.access"' in line]
        time.sleep(0.1)
    assert len(lines) == 1
    line = lines[0]
    assert (line["method"], line["route"], line["status"], line["user"]) == \
        ("GET", "/api/v1/projects/{id}", 404, user["id"])
    assert line["request_id"] == request_id and line["duration_ms"] >= 0
    # no spans are exported on this platform, yet each request has its trace ids
    assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16
    assert project not in json.dumps(line)  # templates, never the ids


def test_prometheus_metrics(platform, start_gateway):
    port = free_port()
    gateway = start_gateway({s: f"http://127.0.0.1:{p}" for s, p in platform.service_ports.items()},
                            gateway_metrics_port=str(port))
    assert httpx.get(gateway.url + "/api/v1/factors").status_code == 200
    assert httpx.get(gateway.url + "/metrics").status_code == 404  # not on the public port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'tanhui_gateway_requests_total{method="GET",route="/api/v1/factors",status="200"}' in text
    assert 'tanhui_gateway_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/factors"}' in text


def test_ready_is_about_the_gateway_and_deep_ready_about_everything_it_needs(gw):
    reply = gw.get("/readyz")
    assert reply.status_code == 200 and reply.json()["checks"] == {"jwks": "ok"}
    deep = gw.get("/readyz", params={"deep": "true"})
    assert deep.status_code == 200
    assert deep.json()["checks"] == {"accounts": "ok", "verification": "ok", "credits": "ok",
                                     "redis": "ok", "jwks": "ok"}


def test_a_service_down_leaves_the_gateway_ready_and_deep_readiness_names_it(platform,
                                                                             start_gateway):
    services = {s: f"http://127.0.0.1:{p}" for s, p in platform.service_ports.items()}
    gateway = start_gateway({**services, "credits": f"http://127.0.0.1:{free_port()}"})
    # An orchestrator keeps this gateway (and every other one) serving accounts and verification.
    assert httpx.get(gateway.url + "/readyz").status_code == 200
    assert httpx.get(gateway.url + "/api/v1/factors").status_code == 200
    deep = httpx.get(gateway.url + "/readyz?deep=true")
    assert deep.status_code == 503
    assert deep.json()["checks"]["credits"].startswith("unreachable")


def test_a_gateway_that_never_loaded_the_signing_keys_is_not_ready(start_gateway):
    gateway = start_gateway()  # accounts (and every service) on ports nobody listens on
    reply = httpx.get(gateway.url + "/readyz")
    assert reply.status_code == 503 and reply.json()["checks"] == {"jwks": "not loaded"}


def test_one_openapi_document_for_every_service_and_its_docs(gw):
    document = gw.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/projects/{project_id}", "/api/v1/registry/projects"):
        assert path in paths
    assert "/healthz" not in paths
    assert paths["/api/v1/stats/city"]["get"]["x-required-roles"] == ["regulator"]
    assert paths["/api/v1/factors"]["get"]["security"] == []
    refs = json.dumps(document).split('"$ref": "#/components/schemas/')[1:]
    assert {r.split('"')[0] for r in refs} <= set(document["components"]["schemas"])
    docs = gw.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_cors_for_the_console_origin_only(gw):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    console = gw.options("/api/v1/trips", headers={"Origin": "http://127.0.0.1:8000", **preflight})
    assert console.status_code == 200
    assert console.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
    stranger = gw.options("/api/v1/trips", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in stranger.headers
    simple = gw.get("/api/v1/factors", headers={"Origin": "http://127.0.0.1:8000"})
    assert "RateLimit-Remaining" in simple.headers["access-control-expose-headers"]
