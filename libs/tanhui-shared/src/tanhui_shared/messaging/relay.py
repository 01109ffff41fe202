"""Outbox relay: publishes committed outbox rows to Kafka, then marks them published.

Several relays may run against one PostgreSQL database: each locks a batch with
`FOR UPDATE SKIP LOCKED`, so no row is published by two relays at once. A relay that dies after
publishing but before marking leaves the rows unpublished; they are sent again and consumers'
inboxes absorb the duplicate (at-least-once on the wire, exactly-once in effect). A backlog is
drained pipelined (`OutboxRelay.drain`): the database work of one batch overlaps another's
hand-over to the producer and flight, never their order.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka import KafkaProducer
from psycopg.types.string import ByteaBinaryLoader
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from ..contracts import qualified
from ..faults import crash_point
from .observers import RelayObserver
from .outbox import OUTBOX_CHANNEL, RELAY_ASLEEP, utcnow

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
# reorder the aggregate's events, so rows at or after it stay unpublished for a later batch. Rows
# in `:in_flight` are this relay's own previous batch, still locked by its other transaction and
# sent before anything claimed now is: not held elsewhere. One statement is one snapshot, so both
# parts see the same rows.
# Run on psycopg's own cursor, results in binary with text loaded as bytes (_bytes_cursor): each
# row a plain tuple whose strings are already what Kafka takes, none decoded and encoded again.
_CLAIM = """
WITH claimed AS (
    SELECT seq, topic, key, event_id, envelope, event_type, correlation_id, traceparent
    FROM outbox
    WHERE published_at IS NULL
    ORDER BY seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), held_elsewhere AS (
    SELECT o.key, min(o.seq) AS seq FROM outbox o
    WHERE o.published_at IS NULL
      AND o.key IN (SELECT key FROM claimed)
      AND o.seq < (SELECT max(seq) FROM claimed)
      AND o.seq NOT IN (SELECT seq FROM claimed)
      AND o.seq <> ALL(%(in_flight)s::integer[])
    GROUP BY o.key
)
SELECT c.seq, c.topic, c.key, c.event_id, c.envelope, c.event_type, c.correlation_id,
       c.traceparent, h.seq AS held_from
FROM claimed c LEFT JOIN held_elsewhere h ON h.key = c.key
ORDER BY c.seq
"""

# One array parameter, not one bind per row.
_MARK = "UPDATE outbox SET published_at = %s WHERE seq = ANY(%s::integer[])"

_ASYNC_COMMIT = "SET LOCAL synchronous_commit = off"

_CONTENT_TYPE = ("content-type", b"application/cloudevents+json; charset=utf-8")

# How many batches one pass of run_relay drains back to back before its periodic work runs again
# (10,000 rows at the default batch size, as 20 x 500 before it was raised).
PASS_BATCHES = 5

# A pass costs ~5 ms of the relay's CPU whatever its size (measured: 5 rows or 50 alike; round
# trips to PostgreSQL, a produce request with a compressed batch per partition). The outbox's
# NOTIFY wakes the relay at every commit: at 200 commits/s, passes of a handful of rows took more
# than a core, and every pass is a fetch, a poll and a transaction for the consumers downstream.
# So a pass starts at most this often (the idle poll's cadence before the NOTIFY); a relay idle
# longer than that is woken at once.
MIN_PASS_S = 0.02


@dataclass
class _Batch:
    """Claimed rows, locked by the open transaction on `conn` until they are marked."""

    conn: PoolProxiedConnection  # psycopg's, in a transaction; closing it rolls back
    locked: int  # rows claimed
    seqs: list[int]  # those that may go now (see held_elsewhere), in order
    records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]  # topic, key, value, headers
    started: float
    closed: bool = False

    def close(self) -> None:
        """Hand the connection back to the pool (which rolls back what was not committed), once."""
        if not self.closed:
            self.closed = True
            self.conn.close()


class OutboxRelay:
    def __init__(self, engine: Engine, producer: KafkaProducer, batch_size: int = 500,
                 namespace: str = "") -> None:
        self.engine = engine
        self.producer = producer
        self.batch_size = batch_size
        self.namespace = namespace

    def publish_batch(self) -> int:
        """Publish up to one batch; returns how many rows were locked (0 = outbox empty)."""
        return self.drain(max_batches=1)

    def drain(self, max_batches: int = PASS_BATCHES,
              on_batch: Callable[[int, int, float], object] | None = None) -> int:
        """Publish batch after batch while they come back full, up to `max_batches`; returns the
        rows the last one locked (fewer than batch_size: the outbox had no more).
        `on_batch(locked, published, seconds)` is told of each (of the empty claim too, if the
        outbox had nothing).

        Each batch: every row handed to the producer, one flush, every future checked; only when
        the broker acknowledged them all (acks=all) are they marked published, in the
        transaction that still holds their locks. Any failure raises and rolls back what is not
        marked: it goes again (consumers' inboxes drop the copies)."""
        started = time.monotonic()
        first = self._claim(())
        if first is None:
            if on_batch is not None:
                on_batch(0, 0, time.monotonic() - started)
            return 0
        if first.locked == self.batch_size and max_batches > 1:
            return self._pipeline(first, max_batches, on_batch)
        try:
            self._await(self._send(first))
            crash_point("relay.after_publish")
            self._mark(first)
        finally:
            first.close()  # rolls back if not marked
        if on_batch is not None:
            on_batch(first.locked, len(first.seqs), time.monotonic() - first.started)
        return first.locked

    def _pipeline(self, first: _Batch, max_batches: int,
                  on_batch: Callable[[int, int, float], object] | None) -> int:
        """A backlog: while batch k is handed to the producer and in flight, a database thread
        marks batch k-1 and claims k+1 (claim and mark are mostly waiting for PostgreSQL; sending
        is this thread's CPU). The job starts before k's sends, not after them: started after,
        it overlapped only k's flight, and its ~2x longer run then set the pace of the drain.
        Batch k+1 is handed to the producer only once k is acknowledged, so a failed batch
        never has a later batch of its keys on the wire before it."""
        marking: _Batch | None = None  # acknowledged, its mark not yet committed
        current: _Batch | None = first  # in flight
        following: _Batch | None = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="relay-db") as database:
                for done in range(1, max_batches + 1):
                    more = current.locked == self.batch_size and done < max_batches
                    job = database.submit(self._mark_then_claim, marking, current.seqs if more else None)
                    try:
                        self._await(self._send(current))
                    finally:
                        following = job.result()  # its connection is ours to close, whatever failed
                    if marking is not None and on_batch is not None:
                        on_batch(marking.locked, len(marking.seqs), time.monotonic() - marking.started)
                    crash_point("relay.after_publish")
                    marking, current, following = current, following, None
                    if current is None:
                        break
                self._mark(marking)
                if on_batch is not None:
                    on_batch(marking.locked, len(marking.seqs), time.monotonic() - marking.started)
                # full and the pass's last: maybe more; short, or the next claim found none: no more
                return marking.locked if marking.locked < self.batch_size or done == max_batches else 0
        finally:
            for batch in (marking, current, following):
                if batch is not None:
                    batch.close()  # rolls back whatever was not marked

    def _mark_then_claim(self, acknowledged: _Batch | None, in_flight: list[int] | None
                         ) -> _Batch | None:
        if acknowledged is not None:
            self._mark(acknowledged)
        return None if in_flight is None else self._claim(in_flight)

    def _claim(self, in_flight: Sequence[int]) -> _Batch | None:
        """Lock the next batch in a transaction of its own; None (and no transaction) if empty."""
        started = time.monotonic()
        conn = self.engine.raw_connection()
        try:
            with _bytes_cursor(conn) as cursor:
                cursor.execute(_CLAIM, {"limit": self.batch_size, "in_flight": _int_array(in_flight)},
                               binary=True)
                rows = cursor.fetchall()
        except BaseException:
            conn.close()  # back to the pool, rolled back
            raise
        if not rows:
            conn.close()
            return None
        seqs: list[int] = []
        records = []
        topics: dict[bytes, str] = {}
        types: dict[bytes, tuple[str, bytes]] = {}  # one header tuple per event type, shared
        for seq, topic, key, event_id, envelope, event_type, correlation_id, traceparent, held_from in rows:
            if held_from is not None and seq >= held_from:
                continue  # an earlier row of its key is held by another relay
            if event_type is None:  # written without the header columns
                headers = _envelope_headers(event_id, envelope)
            else:
                headers = [_CONTENT_TYPE, ("ce_id", event_id),
                           types.get(event_type) or types.setdefault(event_type, ("ce_type", event_type))]
                if correlation_id:
                    headers.append(("x-request-id", correlation_id))
                if traceparent:  # for tools that read Kafka headers, not envelopes
                    headers.append(("traceparent", traceparent))
            if (qualified_topic := topics.get(topic)) is None:
                qualified_topic = topics[topic] = qualified(topic.decode(), self.namespace)
            seqs.append(seq)
            records.append((qualified_topic, key, envelope, headers))
        return _Batch(conn, len(rows), seqs, records, started)

    def _send(self, batch: _Batch) -> list:
        send = self.producer.send
        return [send(topic, key=key, value=value, headers=headers)
                for topic, key, value, headers in batch.records]

    def _await(self, futures: list) -> None:
        self.producer.flush(timeout=SEND_TIMEOUT_S)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_S)  # raises if the broker did not take it

    def _mark(self, batch: _Batch) -> None:
        """Mark the acknowledged rows published, and commit (their locks go with it)."""
        conn = batch.conn.driver_connection
        if batch.seqs:
            # The three statements in one round trip (psycopg's pipeline mode), not three.
            with conn.pipeline():
                # A mark lost in a database crash only sends its rows again (the inboxes drop
                # the copies): not worth waiting for the WAL flush of every batch.
                conn.execute(_ASYNC_COMMIT)
                conn.execute(_MARK, (utcnow(), _int_array(batch.seqs)))
                conn.commit()
        else:
            conn.commit()
        batch.close()


def _int_array(numbers: Sequence[int]) -> str:
    """An integer[] parameter as PostgreSQL's text form: psycopg's dumper of a list of ints took
    ~1 us per element (each one's type checked), this ~0.2."""
    return "{" + ",".join(map(str, numbers)) + "}"


def _bytes_cursor(conn: PoolProxiedConnection) -> Any:
    """A psycopg cursor of `conn` that loads text and varchar columns as bytes."""
    cursor = conn.driver_connection.cursor()
    for oid in ("text", "varchar"):
        cursor.adapters.register_loader(oid, ByteaBinaryLoader)
    return cursor


def _envelope_headers(event_id: bytes, envelope: bytes) -> list[tuple[str, bytes]]:
    """A row's headers read from its envelope (a row without the header columns)."""
    # Structured-mode CloudEvents; a few attributes repeated as headers for routing and tracing.
    # (Parsed here, not by PostgreSQL: its json operators took ~40 ms a 1,000-row claim.)
    parsed = json.loads(envelope)
    headers = [_CONTENT_TYPE, ("ce_id", event_id), ("ce_type", parsed["type"].encode())]
    if parsed.get("correlationid"):
        headers.append(("x-request-id", parsed["correlationid"].encode()))
    if parsed.get("traceparent"):
        headers.append(("traceparent", parsed["traceparent"].encode()))
    return headers


# the outbox holds a row to publish (the unpublished index)
_UNPUBLISHED = "SELECT EXISTS (SELECT FROM outbox WHERE published_at IS NULL)"
# how long a relay going to sleep waits for RELAY_ASLEEP: the writers that found it free end
# within that; held longer, another relay sleeps with it (and every writer notifies both)
_ASLEEP_LOCK_TIMEOUT = "SET lock_timeout = '200ms'"


class _Wakeup:
    """Waits until a transaction that wrote outbox rows commits (the outbox's NOTIFY trigger), or
    `timeout_s` at most: the idle poll stays as the fallback (a lost notification, a database
    not yet migrated). LISTENs on a connection of its own; any error discards it and only sleeps,
    and the next wait connects again. While it waits it holds RELAY_ASLEEP, without which
    writers do not notify (see outbox.py): taken, it looks at the outbox once more, since the
    writers that found it free committed without notifying."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Any = None  # the pool's wrapper of a psycopg connection in autocommit

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        try:
            if self.conn is None:
                self.conn = self.engine.raw_connection()
                self.conn.driver_connection.autocommit = True
                self.conn.driver_connection.execute(_ASLEEP_LOCK_TIMEOUT)
                self.conn.driver_connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                return  # rows committed before the LISTEN woke no one: one more pass looks
            listener = self.conn.driver_connection
            asleep = self._fall_asleep(listener)
            try:
                if listener.execute(_UNPUBLISHED).fetchone()[0]:
                    return  # committed since the pass looked (maybe without a notification)
                self._listen(listener, timeout_s, stop)
            finally:
                if asleep:
                    listener.execute(f"SELECT pg_advisory_unlock({RELAY_ASLEEP})")
        except Exception as exc:  # noqa: BLE001 - e.g. the database restarting: poll meanwhile
            log.warning("outbox LISTEN failed (%s); polling every %.2fs meanwhile", exc, timeout_s)
            self.close()
            stop.wait(timeout_s)

    @staticmethod
    def _fall_asleep(listener: Any) -> bool:  # noqa: ANN401
        """Take RELAY_ASLEEP (after the writers that found it free); False if another relay
        sleeps with it (then writers notify anyway)."""
        try:
            listener.execute(f"SELECT pg_advisory_lock({RELAY_ASLEEP})")
        except psycopg.errors.LockNotAvailable:
            return False
        return True

    @staticmethod
    def _listen(listener: Any, timeout_s: float, stop: threading.Event) -> None:  # noqa: ANN401
        deadline = time.monotonic() + timeout_s
        while not stop.is_set():  # in slices of a second at most, so a stop is seen
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if any(True for _ in listener.notifies(timeout=min(left, 1.0), stop_after=1)):
                for _ in listener.notifies(timeout=0):  # queued meanwhile: this pass takes them
                    pass
                return

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
            last = relay.drain(PASS_BATCHES, observer.batch_done)
            backoff = idle_poll_s
            if last < batch_size:
                wakeup.wait(idle_poll_s, stop)
                stop.wait(started + MIN_PASS_S - time.monotonic())  # returns at once if negative
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
