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
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from kafka import KafkaProducer
from sqlalchemy.engine import Engine

from ..contracts import qualified
from ..faults import crash_point
from .observers import RelayObserver
from .outbox import OUTBOX_CHANNEL, utcnow

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30

# The relay's producer: every batch ends in a flush, which sends at once whatever lingers, so a
# long linger delays nothing. A short one let kafka-python's sender drain each partition's batch
# every few ms while a claim was still being handed over (several small requests per partition
# per claim, each compressed, checksummed and answered in Python): ~25% more CPU per event.
RELAY_LINGER_MS = 1_000

# One round trip claims a batch and says, per row, whether it may go now. `claimed` locks the
# oldest unpublished rows no other relay holds. `held_elsewhere` finds, per key, the first earlier
# unpublished row this relay did not get (another relay holds it): publishing ours first would
# reorder the aggregate's events, so rows at or after it stay unpublished for a later batch. One
# statement is one snapshot, so both parts see the same rows.
_CLAIM = sa.text("""
WITH claimed AS (
    SELECT seq, topic, key, event_id, envelope FROM outbox
    WHERE published_at IS NULL
    ORDER BY seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), held_elsewhere AS (
    SELECT o.key, min(o.seq) AS seq FROM outbox o
    WHERE o.published_at IS NULL
      AND o.key IN (SELECT key FROM claimed)
      AND o.seq < (SELECT max(seq) FROM claimed)
      AND o.seq NOT IN (SELECT seq FROM claimed)
    GROUP BY o.key
)
SELECT c.seq, c.topic, c.key, c.event_id, c.envelope, h.seq AS held_from
FROM claimed c LEFT JOIN held_elsewhere h ON h.key = c.key
ORDER BY c.seq
""")

# One array parameter, not one bind per row.
_MARK = sa.text("UPDATE outbox SET published_at = :now WHERE seq = ANY(:seqs)").bindparams(
    sa.bindparam("seqs", type_=sa.ARRAY(sa.Integer)))

_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit = off")

_CONTENT_TYPE = ("content-type", b"application/cloudevents+json; charset=utf-8")


class OutboxRelay:
    def __init__(self, engine: Engine, producer: KafkaProducer, batch_size: int = 500,
                 namespace: str = "") -> None:
        self.engine = engine
        self.producer = producer
        self.batch_size = batch_size
        self.namespace = namespace
        self.published = 0  # rows the last batch sent (fewer than locked when a key was held)

    def publish_batch(self) -> int:
        """Publish up to one batch; returns how many rows were locked (0 = outbox empty).

        Every row is handed to the producer, then one flush, then every future is checked: only
        when the broker acknowledged them all (acks=all) are they marked published, in the
        transaction that still holds their locks. Any failure raises and rolls back: nothing is
        marked and the whole batch goes again (consumers' inboxes drop the copies)."""
        with self.engine.begin() as conn:
            batch = conn.execute(_CLAIM, {"limit": self.batch_size}).all()
            if not batch:
                return 0
            rows = [row for row in batch if row.held_from is None or row.seq < row.held_from]
            send = self.producer.send
            futures = [send(qualified(row.topic, self.namespace), key=row.key.encode(),
                            value=row.envelope.encode(), headers=_headers(row))
                       for row in rows]
            self.producer.flush(timeout=SEND_TIMEOUT_S)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT_S)  # raises if the broker did not take it
            crash_point("relay.after_publish")
            self.published = len(rows)
            if rows:
                # A mark lost in a database crash only sends its rows again (the inboxes drop
                # the copies): not worth waiting for the WAL flush of every batch.
                conn.execute(_ASYNC_COMMIT)
                conn.execute(_MARK, {"now": utcnow(), "seqs": [row.seq for row in rows]})
            return len(batch)


def _headers(row: Any) -> list[tuple[str, bytes]]:
    # Structured-mode CloudEvents; a few attributes repeated as headers for routing and tracing.
    # (Parsed here, not by PostgreSQL: its json operators took ~40 ms a 1,000-row claim.)
    envelope = json.loads(row.envelope)
    headers = [_CONTENT_TYPE, ("ce_id", row.event_id.encode()), ("ce_type", envelope["type"].encode())]
    if envelope.get("correlationid"):
        headers.append(("x-request-id", envelope["correlationid"].encode()))
    if envelope.get("traceparent"):  # for tools that read Kafka headers, not envelopes
        headers.append(("traceparent", envelope["traceparent"].encode()))
    return headers


class _Wakeup:
    """Waits until a transaction that wrote outbox rows commits (the outbox's NOTIFY trigger), or
    `timeout_s` at most: the idle poll stays as the fallback (a lost notification, a database
    not yet migrated). LISTENs on a connection of its own; any error discards it and only sleeps,
    and the next wait connects again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Any = None  # the pool's wrapper of a psycopg connection in autocommit

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        try:
            if self.conn is None:
                self.conn = self.engine.raw_connection()
                self.conn.driver_connection.autocommit = True
                self.conn.driver_connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                return  # rows committed before the LISTEN woke no one: one more pass looks
            listener = self.conn.driver_connection
            deadline = time.monotonic() + timeout_s
            while not stop.is_set():  # in slices of a second at most, so a stop is seen
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if any(True for _ in listener.notifies(timeout=min(left, 1.0), stop_after=1)):
                    for _ in listener.notifies(timeout=0):  # queued meanwhile: this pass takes them
                        pass
                    return
        except Exception as exc:  # noqa: BLE001 - e.g. the database restarting: poll meanwhile
            log.warning("outbox LISTEN failed (%s); polling every %.2fs meanwhile", exc, timeout_s)
            self.close()
            stop.wait(timeout_s)

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.invalidate()  # never back to the pool: it is in autocommit and LISTENing
            except Exception:  # noqa: BLE001 - already broken
                pass


def run_relay(engine: Engine, make_producer, batch_size: int, idle_poll_s: float,
              stop: threading.Event | None = None, namespace: str = "",
              each_pass: Callable[[Engine], object] | None = None,
              observer: RelayObserver | None = None) -> None:
    """Loop until `stop` is set (or SIGTERM/SIGINT), surviving broker and database outages.
    `each_pass(engine)`, if given, runs once per pass, before the batch (a service's periodic
    upkeep, e.g. credits' audit sequencer); its failure is logged and the next pass retries."""
    stop = stop or threading.Event()
    observer = observer or RelayObserver()
    producer: KafkaProducer | None = None
    wakeup = _Wakeup(engine)
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
            started = time.monotonic()
            sent = relay.publish_batch()
            observer.batch_done(sent, relay.published, time.monotonic() - started)
            backoff = idle_poll_s
            if sent < batch_size:
                wakeup.wait(idle_poll_s, stop)
        except Exception as exc:  # noqa: BLE001 - any failure: back off, rows stay unpublished
            observer.batch_failed(exc)
            log.exception("relay batch failed; retrying in %.1fs", backoff)
            if producer is not None:
                _discard(producer)
                producer = None
            stop.wait(backoff)
            backoff = min(backoff * 2 + 0.1, 5.0)
    wakeup.close()
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
