"""The consumer runner's spans on real PostgreSQL and Kafka: each applied event gets a span that
continues the trace of the span that recorded it, on the batch path (one transaction for a
partition's records) and on the one-by-one path a failing record sends the batch to."""
from __future__ import annotations

import threading
import time

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_shared.contracts import ACCOUNTS_TOPIC, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging import record_event
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.messaging.relay import OutboxRelay
from tanhui_shared.testing.backbone_worker import POISON, PingEffect, Pinged, consumer, create_schema
from tanhui_shared.tracing import configure_tracing, export_to, tracer


@pytest.fixture(scope="module")
def exported() -> InMemorySpanExporter:
    configure_tracing("backbone-tests")
    exporter = InMemorySpanExporter()
    export_to(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def backbone(infra, new_database, topic_namespace, exported):
    engine = make_engine(new_database("tracing"))
    create_schema(engine)
    producer = make_producer(infra.kafka_bootstrap, "test")
    exported.clear()
    yield engine, topic_namespace, producer
    producer.close()
    engine.dispose()


def _record_in_span(engine, name: str, ping: Pinged):
    """`ping` recorded inside a span of its own, as a request's use case records its events."""
    with tracer().start_as_current_span(name) as span, Session(engine) as session, session.begin():
        record_event(session, ping)
    return span.get_span_context()


def _consume_until(engine, infra, namespace, effects: int) -> None:
    runner = consumer(engine, "credits", namespace)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(
        infra.kafka_bootstrap, lambda: make_producer(infra.kafka_bootstrap, "dlq"), stop))
    thread.start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if session.exec(select(func.count()).select_from(PingEffect)).one() >= effects:
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)


def _consumer_spans(exported, event_ids: dict[str, object]) -> dict[str, list]:
    spans = [s for s in exported.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    return {name: [s for s in spans if s.attributes["messaging.message.id"] == event_id]
            for name, event_id in event_ids.items()}


def _event_ids(engine) -> list[str]:
    from tanhui_shared.messaging import OutboxMessage

    with Session(engine) as session:
        return session.exec(select(OutboxMessage.event_id).order_by(OutboxMessage.seq)).all()


def test_each_record_of_a_batch_continues_its_own_trace(backbone, infra, exported):
    engine, namespace, producer = backbone
    parents = [_record_in_span(engine, "request a", Pinged(aggregate="k", n=1)),
               _record_in_span(engine, "request b", Pinged(aggregate="k", n=2))]
    OutboxRelay(engine, producer, namespace=namespace).publish_batch()
    _consume_until(engine, infra, namespace, effects=2)

    spans = _consumer_spans(exported, dict(zip("ab", _event_ids(engine), strict=True)))
    for parent, name in zip(parents, "ab", strict=True):
        [span] = spans[name]
        assert span.context.trace_id == parent.trace_id and span.parent.span_id == parent.span_id
        assert span.name == f"process {qualified(ACCOUNTS_TOPIC, namespace)}"
        assert span.status.status_code is not StatusCode.ERROR


def test_one_by_one_after_a_failed_batch_the_spans_still_continue_each_trace(backbone, infra,
                                                                              exported):
    engine, namespace, producer = backbone
    good = _record_in_span(engine, "request good", Pinged(aggregate="k", n=7))
    poison = _record_in_span(engine, "request poison", Pinged(aggregate="k", n=POISON))
    OutboxRelay(engine, producer, namespace=namespace).publish_batch()
    _consume_until(engine, infra, namespace, effects=1)
    time.sleep(1)  # the poison's retries, then its dead letter

    spans = _consumer_spans(exported, dict(zip(("good", "poison"), _event_ids(engine), strict=True)))
    # the good event: maybe once in the batch that rolled back, then once on its own; each span
    # in its recorder's trace
    assert spans["good"] and all(s.parent.span_id == good.span_id for s in spans["good"])
    assert spans["good"][-1].status.status_code is not StatusCode.ERROR
    # the poison: once in the failed batch, once more on its own (its retries in that one span)
    assert len(spans["poison"]) == 2
    assert all(s.parent.span_id == poison.span_id for s in spans["poison"])
    assert all(s.status.status_code is StatusCode.ERROR for s in spans["poison"])
