"""Trace context in and out of one process (no I/O): into the envelopes record_event writes,
out of them into a consumer's span, in from HTTP headers; malformed contexts are ignored.
The spans are the SDK's own, collected by its in-memory exporter."""
from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlmodel import Session

from tanhui_shared.contracts import CloudEvent, UserRegistered, parse_event
from tanhui_shared.logs import JsonFormatter
from tanhui_shared.messaging.outbox import OutboxMessage, record_event
from tanhui_shared.testing.coroutines import run_coroutine
from tanhui_shared.tracing import configure_tracing, consuming, export_to, traceparent_of, tracer
from tanhui_shared.web.problems import install_problem_handlers
from tanhui_shared.web.server_spans import TracedFastAPI

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
MALFORMED = [
    "garbage",
    f"00-{TRACE}-{PARENT}-01-extra",       # version 00 has exactly four fields
    f"ff-{TRACE}-{PARENT}-01",             # version ff is forbidden
    f"00-{'0' * 32}-{PARENT}-01",          # all-zero trace id
    f"00-{TRACE}-{'0' * 16}-01",           # all-zero parent id
    f"00-{TRACE.upper()}-{PARENT}-01",     # upper-case hex
    f"00-{TRACE[:-1]}-{PARENT}-01",        # a digit short
    f"00-{TRACE}-{PARENT}-01\r\nx-injected: 1",
]


@pytest.fixture(scope="module")
def exported() -> InMemorySpanExporter:
    configure_tracing("tanhui-shared-tests")  # a no-op if this process configured it already
    exporter = InMemorySpanExporter()
    export_to(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exported):
    exported.clear()
    return exported


def _user() -> UserRegistered:
    return UserRegistered(user_id="u1", username="lihua", role="citizen", subject_kind="person")


def _staged(session: Session) -> dict:
    [row] = [obj for obj in session.new if isinstance(obj, OutboxMessage)]
    return json.loads(row.envelope)


def test_an_event_recorded_in_a_span_carries_its_trace_context(spans):
    with Session() as session, tracer().start_as_current_span("request") as span:
        envelope = record_event(session, _user())
        wire = _staged(session)
    ctx = span.get_span_context()
    assert wire["traceparent"] == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    assert "tracestate" not in wire  # empty: omitted
    assert parse_event(envelope.to_json()).traceparent == wire["traceparent"]


def test_outside_any_span_an_event_carries_no_trace_context(spans):
    with Session() as session:
        record_event(session, _user())
        assert "traceparent" not in _staged(session)


def _event(traceparent: str | None, tracestate: str | None = None) -> CloudEvent:
    return CloudEvent(type=UserRegistered.TYPE, source=UserRegistered.SOURCE, subject="u1",
                      data=_user().model_dump(), traceparent=traceparent, tracestate=tracestate)


def test_a_consumer_span_continues_the_events_trace_and_passes_it_on(spans):
    event = _event(f"00-{TRACE}-{PARENT}-01", "vendor=abc")
    with consuming(event, "tanhui.accounts.v1", "credits"), Session() as session:
        record_event(session, _user())
        emitted = _staged(session)
    [span] = spans.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER and span.name == "process tanhui.accounts.v1"
    assert f"{span.context.trace_id:032x}" == TRACE
    assert f"{span.parent.span_id:016x}" == PARENT and span.parent.is_remote
    assert span.attributes["messaging.system"] == "kafka"
    assert span.attributes["messaging.destination.name"] == "tanhui.accounts.v1"
    assert span.attributes["messaging.consumer.group.name"] == "credits"
    assert span.attributes["cloudevents.event_type"] == UserRegistered.TYPE
    assert span.attributes["messaging.message.id"] == event.id
    # what the handler records continues the trace, from the consumer's span
    assert emitted["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert emitted["tracestate"] == "vendor=abc"


@pytest.mark.parametrize("traceparent", MALFORMED)
def test_a_malformed_traceparent_in_an_event_starts_a_new_trace(spans, traceparent):
    event = parse_event(_event(traceparent).to_json())  # still a deliverable event
    with consuming(event, "tanhui.accounts.v1", "credits"):
        pass
    [span] = spans.get_finished_spans()
    assert span.parent is None and f"{span.context.trace_id:032x}" != TRACE


def test_a_failing_handler_marks_its_span(spans):
    with pytest.raises(RuntimeError), consuming(_event(None), "t", "g"):
        raise RuntimeError("boom")
    [span] = spans.get_finished_spans()
    assert not span.status.is_ok and span.status.description == "RuntimeError"


def _app() -> FastAPI:
    """A FastAPI app configured as create_service_app configures the services'."""
    app = TracedFastAPI()

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict:
        return {"traceparent": traceparent_of()[0]}

    return app


def _get(path: str, headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()),
                                     base_url="http://service") as client:
            return await client.get(path, headers=headers)
    return run_coroutine(call())  # not asyncio.run: another test's loop may be running


def test_a_service_has_one_server_span_per_request_continuing_its_caller(spans):
    reply = _get("/things/42", {"traceparent": f"00-{TRACE}-{PARENT}-01"})
    [span] = spans.get_finished_spans()  # no spans per dependency, endpoint, serialization
    assert span.kind is SpanKind.SERVER and span.name == "GET /things/{thing_id}"
    assert span.attributes["http.route"] == "/things/{thing_id}"
    assert span.attributes["http.response.status_code"] == 200
    assert f"{span.context.trace_id:032x}" == TRACE and f"{span.parent.span_id:016x}" == PARENT
    assert reply.json()["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"


@pytest.mark.parametrize("traceparent", MALFORMED[:-1])  # httpx refuses to send CR LF itself
def test_a_service_ignores_a_malformed_traceparent(spans, traceparent):
    _get("/things/42", {"traceparent": traceparent})
    [span] = spans.get_finished_spans()
    assert span.parent is None and f"{span.context.trace_id:032x}" != TRACE


class _Lines(logging.Handler):
    """Log lines as the services write them: formatted when logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(JsonFormatter("tests"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_a_failed_request_marks_its_span_and_its_error_line_names_it(spans):
    """The span is around Starlette's error middleware: the 500's log line is written in it."""
    app = TracedFastAPI()
    install_problem_handlers(app)

    @app.post("/things/{thing_id}/break")
    async def breaks(thing_id: str) -> None:
        raise RuntimeError("boom")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.post("/things/1/break",
                                     headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})

    logger, lines = logging.getLogger("tanhui_shared.web.problems"), _Lines()
    logger.addHandler(lines)
    try:
        assert run_coroutine(call()).status_code == 500
    finally:
        logger.removeHandler(lines)
    [span] = spans.get_finished_spans()
    assert span.name == "POST /things/{thing_id}/break" and not span.status.is_ok
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == "RuntimeError"
    [line] = [line for line in lines.lines if line["msg"] == "unhandled error"]
    assert (line["trace_id"], line["span_id"]) == (TRACE, f"{span.context.span_id:016x}")


def test_a_path_no_route_has_is_spanned_by_its_method_alone(spans):
    assert _get("/nothing/here", {}).status_code == 404
    [span] = spans.get_finished_spans()
    assert span.name == "GET" and "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404


def test_log_lines_carry_the_current_trace_and_span_ids(spans):
    formatter = JsonFormatter("tests")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    assert "trace_id" not in json.loads(formatter.format(record))
    with tracer().start_as_current_span("work") as span:
        line = json.loads(formatter.format(record))
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_spans_are_recorded_only_once_exported_unless_a_sampler_is_chosen(monkeypatch):
    from opentelemetry.sdk.trace.sampling import Decision

    from tanhui_shared.tracing import _Sampler

    def decision(sampler) -> Decision:
        return sampler.should_sample(None, int(TRACE, 16), "GET /x").decision

    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    quiet = _Sampler()
    assert decision(quiet) is Decision.DROP  # ids still made; the span costs less
    quiet.record()  # what an exporter switches on
    assert decision(quiet) is Decision.RECORD_AND_SAMPLE
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    assert decision(_Sampler()) is Decision.RECORD_AND_SAMPLE


def test_while_nothing_is_recorded_spans_still_carry_the_trace_on(monkeypatch):
    """The direct spans of `start_span` (no exporter, no sampler asked for): the parent's trace
    id with a span id of their own, not sampled, and a new trace without a parent."""
    from opentelemetry import trace

    from tanhui_shared import tracing

    configure_tracing("tanhui-shared-tests")
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.setattr(tracing, "_sampler", tracing._Sampler())  # as a process exporting nothing
    assert not tracing.recording()
    child = tracing.start_span("GET", context=tracing.remote_parent(f"00-{TRACE}-{PARENT}-01"),
                               kind=SpanKind.SERVER)
    traceparent, _ = traceparent_of(child)
    version, trace_id, span_id, flags = traceparent.split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "00") and span_id not in (PARENT, "0" * 16)
    assert not child.is_recording()
    with trace.use_span(child):
        grandchild = tracing.start_span("GET /api/v1/factors", kind=SpanKind.CLIENT)
    assert traceparent_of(grandchild)[0].split("-")[1] == TRACE
    fresh = [traceparent_of(tracing.start_span("x"))[0].split("-")[1] for _ in range(3)]
    assert len(set(fresh)) == 3 and TRACE not in fresh
