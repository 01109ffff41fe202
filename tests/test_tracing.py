"""One request traced across processes: the gateway, the service it calls and, through Kafka,
another service's consumer, all in one trace with the right parents; and every line the
platform's processes log, uvicorn's own included, is JSON.

The platform exports its spans over OTLP/HTTP (the standard OTEL_EXPORTER_OTLP_ENDPOINT) to a
receiver this test runs, which decodes them with OpenTelemetry's own protobuf definitions.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from e2e_support import PASSWORD
from tanhui_shared.contracts import UserRegistered, qualified


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    attributes: dict


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None


class _Collector(BaseHTTPRequestHandler):
    """POST /v1/traces, as an OpenTelemetry collector's OTLP/HTTP receiver takes it."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's protocol
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received += [Span(resource["service.name"], s.name, s.kind, s.trace_id.hex(),
                                  s.span_id.hex(), s.parent_span_id.hex(),
                                  {a.key: _value(a.value) for a in s.attributes})
                             for s in scope_spans.spans]
        with self.server.lock:
            self.server.spans += received
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.spans, server.lock = [], threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced_platform(platform_with, tmp_path_factory, collector):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}  # export every 0.1 s, not every 5 s
    with platform_with(tmp_path_factory.mktemp("traced"), env) as stack:
        yield stack


def _trace(collector, trace_id: str, until, timeout_s: float = 30) -> list[Span]:
    """The spans of `trace_id` the collector has, once `until(spans)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        with collector.lock:
            spans = [s for s in collector.spans if s.trace_id == trace_id]
        if until(spans):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace_id} incomplete after {timeout_s}s: {spans}")
        time.sleep(0.2)


def _one(spans: list[Span], **match) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, spans)
    return found[0]


def test_a_registration_is_one_trace_from_the_gateway_to_another_services_consumer(
        traced_platform, collector):
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    reply = httpx.post(traced_platform.gateway_url + "/api/v1/auth/register", timeout=30,
                       json={"username": f"trace-{uuid.uuid4().hex[:10]}", "password": PASSWORD,
                             "role": "citizen"},
                       headers={"traceparent": f"00-{trace_id}-{client_span}-01"})
    assert reply.status_code == 201, reply.text
    spans = _trace(collector, trace_id,
                   lambda found: any(s.service == "credits-consumer" for s in found))

    route = "/api/v1/auth/register"
    gateway = _one(spans, service="gateway", kind=SpanProto.SPAN_KIND_SERVER)
    assert (gateway.name, gateway.parent_id) == (f"POST {route}", client_span)
    assert gateway.attributes == {"http.request.method": "POST", "http.route": route,
                                  "http.response.status_code": 201}
    call = _one(spans, service="gateway", kind=SpanProto.SPAN_KIND_CLIENT)
    assert call.parent_id == gateway.span_id and call.attributes["http.response.status_code"] == 201
    accounts = _one(spans, service="accounts", kind=SpanProto.SPAN_KIND_SERVER)
    assert (accounts.name, accounts.parent_id) == (f"POST {route}", call.span_id)
    # UserRegistered, recorded in accounts' request span, applied by credits' consumer
    consumer = _one(spans, service="credits-consumer", kind=SpanProto.SPAN_KIND_CONSUMER)
    assert consumer.parent_id == accounts.span_id
    topic = qualified(UserRegistered.TOPIC, traced_platform.namespace)
    assert consumer.name == f"process {topic}"
    assert consumer.attributes["messaging.system"] == "kafka"
    assert consumer.attributes["messaging.destination.name"] == topic
    assert consumer.attributes["messaging.consumer.group.name"] == "credits"
    assert consumer.attributes["cloudevents.event_type"] == UserRegistered.TYPE

    # the gateway's access-log line names the same trace and the gateway's span
    log = traced_platform.var_dir / "logs" / "gateway.log"
    [line] = [json.loads(text) for text in log.read_text().splitlines()
              if trace_id in text and '"tanhui_gateway.access"' in text]
    assert (line["trace_id"], line["span_id"], line["route"]) == (trace_id, gateway.span_id, route)


def test_a_malformed_traceparent_from_a_client_starts_a_new_trace(traced_platform, collector):
    trace_id = secrets.token_hex(16)
    malformed = f"00-{trace_id}-{secrets.token_hex(8)}-01-extra"  # version 00 has four fields
    reply = httpx.get(traced_platform.gateway_url + "/api/v1/factors", timeout=30,
                      headers={"traceparent": malformed})
    assert reply.status_code == 200
    time.sleep(1)  # ten export intervals
    with collector.lock:
        assert not [s for s in collector.spans if s.trace_id == trace_id]
        [gateway] = [s for s in collector.spans if s.service == "gateway"
                     and s.kind == SpanProto.SPAN_KIND_SERVER
                     and s.attributes.get("http.route") == "/api/v1/factors"]
    assert gateway.parent_id == ""  # a root: the gateway's own trace
    spans = _trace(collector, gateway.trace_id,
                   lambda found: any(s.service == "accounts" for s in found))
    call = _one(spans, service="gateway", kind=SpanProto.SPAN_KIND_CLIENT)
    assert _one(spans, service="accounts").parent_id == call.span_id


def test_every_line_every_process_logged_is_json_uvicorns_too(traced_platform):
    traced_platform.stop()  # the shutdown lines too
    logs = sorted((traced_platform.var_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"gateway", "accounts-api", "credits-consumer", "accounts-relay"}
    loggers = {}
    for path in logs:
        for number, text in enumerate(path.read_text().splitlines(), 1):
            try:
                line = json.loads(text)
            except ValueError:
                raise AssertionError(f"{path.name}:{number} is not JSON: {text!r}") from None
            loggers.setdefault(path.stem, set()).add(line["logger"])
    # uvicorn's own lines ("Started server process", "Application startup complete", ...)
    assert "uvicorn.error" in loggers["gateway"] and "uvicorn.error" in loggers["accounts-api"]
