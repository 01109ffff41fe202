"""Outbox relay: publishes committed outbox rows to Kafka, then marks them published.

Several relays may run against one PostgreSQL database: each locks a batch with
`FOR UPDATE SKIP LOCKED`, so no row is published by two relays at once. A relay that dies after
publishing but before marking leaves the rows unpublished; they are sent again and consumers'
inboxes absorb the duplicate (at-least-once on the wire, exactly-once in effect).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence

from kafka import KafkaProducer
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..contracts import qualified
from ..faults import crash_point
from .outbox import OutboxMessage, utcnow

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30


def _publishable_in_key_order(session: Session, batch: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """Drop rows whose key has an earlier unpublished row this relay does not hold.

    Another relay holds that earlier row; publishing ours first would reorder the aggregate's
    events. Ours stay unpublished and are picked up once the earlier row is out.
    """
    mine = {row.seq for row in batch}
    keys = {row.key for row in batch}
    pending = session.exec(
        select(OutboxMessage.key, OutboxMessage.seq)
        .where(col(OutboxMessage.published_at).is_(None))
        .where(col(OutboxMessage.key).in_(keys))
        .where(col(OutboxMessage.seq) <= max(mine))
        .order_by(col(OutboxMessage.seq))
    ).all()
    # the first seq, per key, of an earlier unpublished row held by another relay
    first_foreign: dict[str, int] = {}
    for key, seq in pending:  # ordered by seq
        if seq not in mine:
            first_foreign.setdefault(key, seq)
    allowed = [row for row in batch if row.seq < first_foreign.get(row.key, row.seq + 1)]
    return allowed


class OutboxRelay:
    def __init__(self, engine: Engine, producer: KafkaProducer, batch_size: int = 500,
                 namespace: str = "") -> None:
        self.engine = engine
        self.producer = producer
        self.batch_size = batch_size
        self.namespace = namespace

    def publish_batch(self) -> int:
        """Publish up to one batch; returns how many rows were locked (0 = outbox empty)."""
        with Session(self.engine) as session, session.begin():
            batch = session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.published_at).is_(None))
                .order_by(col(OutboxMessage.seq))
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not batch:
                return 0
            rows = _publishable_in_key_order(session, batch)
            futures = [
                self.producer.send(
                    qualified(row.topic, self.namespace),
                    key=row.key.encode(),
                    value=row.envelope.encode(),
                    headers=_headers(row),
                )
                for row in rows
            ]
            self.producer.flush(timeout=SEND_TIMEOUT_S)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT_S)  # raises if the broker did not take it
            crash_point("relay.after_publish")
            if rows:
                session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.seq).in_([r.seq for r in rows]))
                    .values(published_at=utcnow())
                )
            return len(batch)


def _headers(row: OutboxMessage) -> list[tuple[str, bytes]]:
    # Structured-mode CloudEvents; a few attributes repeated as headers for routing and tracing.
    envelope = json.loads(row.envelope)
    headers = [
        ("content-type", b"application/cloudevents+json; charset=utf-8"),
        ("ce_id", row.event_id.encode()),
        ("ce_type", envelope["type"].encode()),
    ]
    if envelope.get("correlationid"):
        headers.append(("x-request-id", envelope["correlationid"].encode()))
    return headers


def run_relay(engine: Engine, make_producer, batch_size: int, idle_poll_s: float,
              stop: threading.Event | None = None, namespace: str = "",
              each_pass: Callable[[Engine], object] | None = None) -> None:
    """Loop until `stop` is set (or SIGTERM/SIGINT), surviving broker and database outages.
    `each_pass(engine)`, if given, runs once per pass, before the batch (a service's periodic
    upkeep, e.g. credits' audit sequencer); its failure is logged and the next pass retries."""
    stop = stop or threading.Event()
    producer: KafkaProducer | None = None
    backoff = idle_poll_s
    while not stop.is_set():
        if each_pass is not None:
            try:
                each_pass(engine)
            except Exception:  # noqa: BLE001 - not the relay's own work: it carries on
                log.exception("the relay's periodic work failed; retrying on the next pass")
        try:
            if producer is None:
                producer = make_producer()
            relay = OutboxRelay(engine, producer, batch_size, namespace)
            sent = relay.publish_batch()
            backoff = idle_poll_s
            if sent < batch_size:
                stop.wait(idle_poll_s)
        except Exception:  # noqa: BLE001 - any failure: back off, rows stay unpublished
            log.exception("relay batch failed; retrying in %.1fs", backoff)
            if producer is not None:
                _discard(producer)
                producer = None
            stop.wait(backoff)
            backoff = min(backoff * 2 + 0.1, 5.0)
    if producer is not None:
        _discard(producer, timeout_s=5)


def _discard(producer: KafkaProducer, timeout_s: float = 1) -> None:
    """Close a producer whose sends failed. Its close flushes what it still holds, which times
    out while the broker is away: that must not end the relay (the rows stay unpublished and
    the next producer sends them)."""
    try:
        producer.close(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - e.g. KafkaTimeoutError from the flush
        log.warning("closing the failed producer did not finish cleanly; dropped", exc_info=True)
