"""The gateway's server span (no I/O): a client's well-formed `traceparent` is continued, any
other starts a new trace; attributes are bounded labels, never the path; and what reaches a
service is the gateway's own trace context, never the client's copy."""
from __future__ import annotations

import json

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.types import Receive, Scope, Send

from tanhui_gateway.observability import SCOPE_KEY, Metrics, ObserveRequests
from tanhui_gateway.proxy import upstream_headers
from tanhui_gateway.tracing import TraceRequests
from tanhui_shared.testing.coroutines import run_coroutine
from tanhui_shared.tracing import configure_tracing, export_to, traceparent_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def exported() -> InMemorySpanExporter:
    configure_tracing("gateway-tests")  # a no-op if this process configured it already
    exporter = InMemorySpanExporter()
    export_to(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exported):
    exported.clear()
    return exported


async def _route(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the proxy path: names the route, answers with the current trace context."""
    scope[SCOPE_KEY]["route"] = "/api/v1/things/{id}"
    body = json.dumps({"traceparent": traceparent_of()[0]}).encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _call(method: str, headers: dict[str, str]) -> httpx.Response:
    app = TraceRequests(ObserveRequests(_route, Metrics()))

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gateway") as client:
            return await client.request(method, "/api/v1/things/8f1c", headers=headers)
    return run_coroutine(call())  # not asyncio.run: another test's loop may be running


def test_a_well_formed_traceparent_is_continued_with_bounded_attributes(spans):
    reply = _call("POST", {"traceparent": f"00-{TRACE}-{PARENT}-01"})
    [span] = spans.get_finished_spans()
    assert span.kind is SpanKind.SERVER and span.name == "POST /api/v1/things/{id}"
    assert dict(span.attributes) == {"http.request.method": "POST",
                                     "http.route": "/api/v1/things/{id}",
                                     "http.response.status_code": 201}
    assert f"{span.context.trace_id:032x}" == TRACE and f"{span.parent.span_id:016x}" == PARENT
    assert reply.json()["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"


@pytest.mark.parametrize("traceparent", ["nonsense", f"00-{TRACE}-{PARENT}-01-more",
                                         f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE[:30]}-{PARENT}-01"])
def test_a_malformed_traceparent_starts_a_new_trace(spans, traceparent):
    _call("GET", {"traceparent": traceparent})
    [span] = spans.get_finished_spans()
    assert span.parent is None and f"{span.context.trace_id:032x}" != TRACE


def test_a_made_up_method_is_one_label(spans):
    _call("BREW", {})
    [span] = spans.get_finished_spans()
    assert span.attributes["http.request.method"] == "OTHER"
    assert span.name == "OTHER /api/v1/things/{id}"


def test_the_service_gets_the_gateways_trace_context_not_the_clients():
    raw = [(b"traceparent", f"00-{TRACE}-{PARENT}-01".encode()), (b"tracestate", b"client=1"),
           (b"accept", b"*/*")]
    ours = f"00-{TRACE}-{'1' * 16}-01"
    sent = upstream_headers(raw, "10.0.0.7", "rid-1", False, 0, (ours, "gw=2"))
    assert [(k, v) for k, v in sent if k.startswith("trace")] == [("traceparent", ours),
                                                                    ("tracestate", "gw=2")]
    assert not [k for k, _ in upstream_headers(raw, "10.0.0.7", "rid-1", False, 0)
                if k.startswith("trace")]
