"""The relay's Kafka headers against real PostgreSQL and real Kafka: the CloudEvents attributes it
repeats as headers are those of the envelope it sends, whether it took them from the outbox's
header columns (rows written by outbox_row) or from the envelope (a row written without them:
one from before the columns, or credits' hot_listing_sale's INSERT)."""
from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tanhui_shared.context import request_id_var
from tanhui_shared.contracts import ACCOUNTS_TOPIC, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging import OutboxMessage, record_event
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.messaging.relay import OutboxRelay
from tanhui_shared.testing.backbone_worker import Pinged, create_schema
from tanhui_shared.testing.kafka_reader import read_topic
from tanhui_shared.tracing import configure_tracing, tracer

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def expected_headers(envelope: dict) -> list[tuple[str, bytes]]:
    headers = [("content-type", b"application/cloudevents+json; charset=utf-8"),
               ("ce_id", envelope["id"].encode()), ("ce_type", envelope["type"].encode())]
    if envelope.get("correlationid"):
        headers.append(("x-request-id", envelope["correlationid"].encode()))
    if envelope.get("traceparent"):
        headers.append(("traceparent", envelope["traceparent"].encode()))
    return headers


def test_every_record_carries_its_envelopes_headers_from_the_columns_or_the_envelope(
        infra, new_database, topic_namespace):
    engine = make_engine(new_database("relay_headers"))
    create_schema(engine)
    configure_tracing("tanhui-shared-tests")  # a no-op if this process configured it already
    token = request_id_var.set("req-relay-headers")
    try:
        with Session(engine) as session, session.begin():
            with tracer().start_as_current_span("request"):
                record_event(session, Pinged(aggregate="traced", n=1))
            record_event(session, Pinged(aggregate="plain", n=2))
    finally:
        request_id_var.reset(token)
    with Session(engine) as session, session.begin():
        record_event(session, Pinged(aggregate="bare", n=3))  # no request id, no span
    legacy_id = str(uuid.uuid4())
    legacy = {"specversion": "1.0", "id": legacy_id, "type": Pinged.TYPE, "source": Pinged.SOURCE,
              "subject": "legacy", "time": "2026-01-01T00:00:00Z",
              "datacontenttype": "application/json", "data": {"aggregate": "legacy", "n": 4},
              "correlationid": "req-legacy", "traceparent": TRACEPARENT}
    with engine.begin() as conn:  # as hot_listing_sale writes its event: no header columns
        conn.execute(sa.text("INSERT INTO outbox (event_id, topic, key, envelope, created_at) "
                             "VALUES (:id, :topic, 'legacy', :envelope, :now)"),
                     {"id": legacy_id, "topic": Pinged.TOPIC, "envelope": json.dumps(legacy),
                      "now": utcnow()})
    with Session(engine) as session:
        filled = session.exec(select(OutboxMessage.key).where(
            col(OutboxMessage.event_type).is_not(None))).all()
    assert sorted(filled) == ["bare", "plain", "traced"]

    producer = make_producer(infra.kafka_bootstrap, "test-headers")
    try:
        assert OutboxRelay(engine, producer, namespace=topic_namespace).publish_batch() == 4
    finally:
        producer.close()
        engine.dispose()

    records = {r.key: r for r in read_topic(infra.kafka_bootstrap,
                                            qualified(ACCOUNTS_TOPIC, topic_namespace))}
    assert sorted(records) == [b"bare", b"legacy", b"plain", b"traced"]
    for record in records.values():
        assert record.headers == expected_headers(json.loads(record.value)), record.key
    names = {key: [name for name, _ in r.headers] for key, r in records.items()}
    assert "traceparent" in names[b"traced"] and "x-request-id" in names[b"traced"]
    assert "traceparent" not in names[b"plain"] and "x-request-id" in names[b"plain"]
    assert names[b"bare"] == ["content-type", "ce_id", "ce_type"]
    assert dict(records[b"legacy"].headers)["traceparent"] == TRACEPARENT.encode()
