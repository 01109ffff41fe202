"""Consumer runner: applies each event exactly once in effect, in key order, or dead-letters it.

Per record, in one database transaction: insert (group, event id) into the inbox (a conflict means
a redelivery: skip), run the handler, commit. Offsets are committed only after the database
commits, so a crash between the two redelivers events the inbox then absorbs. An event type is
applied only when it arrived on its owner's topic with its owner's `source`; anything else goes to
the dead-letter topic like a malformed record ("foreign topic: ..." / "foreign source: ...").
"""
from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from ..context import causation_id_var, request_id_var
from ..contracts import CONTRACTS, CloudEvent, EventContract, parse_event, qualified
from ..contracts.envelope import MalformedEvent, UnknownEventType
from ..faults import crash_point
from ..tracing import consuming
from ..uow import UnitOfWork, run_unit_of_work
from .kafka import Kafka, make_consumer
from .observers import ConsumerObserver
from .outbox import InboxEntry, utcnow

log = logging.getLogger(__name__)

# Inserts a group's inbox rows for these events, returning the ids it did insert (absent: applied
# before, or a copy earlier in the same list).
_TAKE_INBOX = sa.text("""
INSERT INTO inbox (consumer_group, event_id, event_type, processed_at)
SELECT :group, e.id, e.type, :now FROM unnest(:ids, :types) AS e(id, type)
ON CONFLICT DO NOTHING
RETURNING event_id""").bindparams(sa.bindparam("ids", type_=sa.ARRAY(sa.String)),
                                  sa.bindparam("types", type_=sa.ARRAY(sa.String)))

# A handler decodes nothing and opens no transaction: it calls the service's use case with the
# unit of work the runner opened (the inbox row is already in it).
Handler = Callable[[UnitOfWork, CloudEvent, EventContract], None]


class _AlreadyApplied(Exception):
    """This group's inbox already holds the event: a redelivery."""


class DeadLetter(Exception):
    """Raised (internally) when a record cannot ever be applied and must go to the DLQ."""


class ForeignEvent(ValueError):
    """A known event type on a topic, or from a source, that does not own it: dead-lettered."""


@dataclass
class ConsumerRunner:
    group: str
    topics: list[str]
    handlers: dict[str, Handler]  # event type -> handler; the one table of what this group does
    engine: Engine
    dlq_topic: str
    max_attempts: int = 3
    backoff_s: float = 0.2
    namespace: str = ""
    # A killed member holds its partitions until its session times out; keep that short. With a
    # stable instance id (static membership) a restarted process takes them back at once.
    session_timeout_ms: int = 10_000
    instance_id: str | None = None
    contracts: Mapping[str, type[EventContract]] = field(default_factory=lambda: CONTRACTS)
    applied: int = field(default=0, init=False)
    dead_lettered: int = field(default=0, init=False)
    observer: ConsumerObserver = field(default_factory=ConsumerObserver)

    def _decode(self, record: ConsumerRecord) -> tuple[CloudEvent, EventContract]:
        try:
            event = parse_event(record.value)
            contract = self.contracts.get(event.type)
            if contract is None:
                raise UnknownEventType(f"no contract for event type {event.type!r}")
            self._check_owner(record, event, contract)
            return event, contract.model_validate(event.data)
        except (MalformedEvent, UnknownEventType, ValueError) as exc:
            raise DeadLetter(str(exc)) from exc

    def _check_owner(self, record: ConsumerRecord, event: CloudEvent,
                     contract: type[EventContract]) -> None:
        """An event type is applied only from the topic and source of the service that owns it.
        Checked for every known type, handled here or not: a misplaced event is forged or a bug.
        The topic is the guarantee (in production only the owner's Kafka principal may write
        it); the source, which any producer can claim, catches an owner's topic carrying
        another service's event."""
        owner_topic = qualified(contract.TOPIC, self.namespace)
        if record.topic != owner_topic:
            raise ForeignEvent(f"foreign topic: {event.type} is published only on {owner_topic}, "
                               f"not on {record.topic}")
        if event.source != contract.SOURCE:
            raise ForeignEvent(f"foreign source: {event.type} comes only from {contract.SOURCE}, "
                               f"not from {event.source}")

    def apply(self, record: ConsumerRecord) -> str:
        """Apply one record. Returns 'applied', 'duplicate' or 'ignored'; raises DeadLetter."""
        event, payload = self._decode(record)
        handler = self.handlers.get(event.type)
        if handler is None:
            return "ignored"  # a known event this group has no use for
        request_id_var.set(event.correlationid)
        causation_id_var.set(event.id)
        with consuming(event, record.topic, self.group):
            return self._apply_with_retries(event, payload, handler)

    def _apply_with_retries(self, event: CloudEvent, payload: EventContract,
                            handler: Handler) -> str:
        last_error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._apply_once(event, payload, handler)
            except OperationalError:
                raise  # the database is away: not the event's fault; the caller waits and retries
            except Exception as exc:  # noqa: BLE001 - a handler failure: retry, then dead-letter
                last_error = exc
                log.warning("handler failed (attempt %d/%d) for %s: %s",
                            attempt, self.max_attempts, event.id, exc)
                if attempt < self.max_attempts:
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise DeadLetter("".join(traceback.format_exception_only(last_error)).strip()) from last_error

    def _apply_once(self, event: CloudEvent, payload: EventContract, handler: Handler) -> str:
        def operation(uow: UnitOfWork) -> None:
            uow.session.add(InboxEntry(consumer_group=self.group, event_id=event.id,
                                       event_type=event.type))
            try:
                uow.session.flush()  # the inbox row first: a redelivery stops here, before any effect
            except IntegrityError as exc:
                raise _AlreadyApplied from exc
            handler(uow, event, payload)

        try:
            with Session(self.engine, expire_on_commit=False) as session:
                run_unit_of_work(session, operation)
        except _AlreadyApplied:
            return "duplicate"
        crash_point("consumer.after_db_commit")
        self.applied += 1
        return "applied"

    def apply_together(self, records: list[ConsumerRecord]) -> bool:
        """The fast path: polled records in ONE transaction (one commit instead of one per
        event). True if all were applied (or were duplicates); False, with nothing written, if
        any record is malformed or unknown or any handler fails: the caller then takes a
        slower path, which retries and dead-letters each record on its own."""
        try:
            decoded = [(record, *self._decode(record)) for record in records]
        except DeadLetter:
            return False
        wanted = [(record, event, payload, self.handlers[event.type])
                  for record, event, payload in decoded if event.type in self.handlers]
        if not wanted:
            self.observer.counted("ignored", len(records))
            return True
        def operation(uow: UnitOfWork) -> int:
            # The inbox rows first, in one statement: those already there (redeliveries, or
            # copies within this poll) come back absent and their events are skipped. A row
            # another consumer inserts meanwhile makes this wait for its commit, then skip.
            fresh = set(uow.session.execute(_TAKE_INBOX, {
                "group": self.group, "now": utcnow(), "ids": [e.id for _, e, _, _ in wanted],
                "types": [e.type for _, e, _, _ in wanted]}).scalars())
            count = 0
            for record, event, payload, handler in wanted:
                if event.id not in fresh:
                    continue  # a redelivery
                fresh.discard(event.id)
                request_id_var.set(event.correlationid)
                causation_id_var.set(event.id)
                # Each record its own span, a child of its own event's: the records of one batch
                # belong to as many traces, and what a handler records continues its trace.
                with consuming(event, record.topic, self.group, len(wanted)):
                    handler(uow, event, payload)
                count += 1
            return count

        try:
            with Session(self.engine, expire_on_commit=False) as session:
                applied = run_unit_of_work(session, operation)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - rolled back whole; one by one sorts it out
            log.info("batch of %d fell back to a slower path: %s", len(records), exc)
            return False
        crash_point("consumer.after_db_commit")
        self.applied += applied
        self.observer.counted("applied", applied)
        self.observer.counted("duplicate", len(wanted) - applied)
        self.observer.counted("ignored", len(records) - len(wanted))
        return True

    def dead_letter(self, producer: KafkaProducer, record: ConsumerRecord, reason: str) -> None:
        headers = list(record.headers or []) + [
            ("dlq-error", reason[:2000].encode()),
            ("dlq-group", self.group.encode()),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
        ]
        producer.send(qualified(self.dlq_topic, self.namespace), key=record.key, value=record.value,
                      headers=headers).get(timeout=30)
        self.dead_lettered += 1
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset,
                  reason)

    def run(self, kafka: Kafka, make_producer: Callable[[], KafkaProducer], stop) -> None:
        consumer = make_consumer(
            kafka,
            *(qualified(t, self.namespace) for t in self.topics),
            group_id=qualified(self.group, self.namespace),
            client_id=f"{self.group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=200,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(500, self.session_timeout_ms // 4),
            group_instance_id=self.instance_id,
        )
        producer = make_producer()
        try:
            while not stop.is_set():
                try:
                    batches = consumer.poll(timeout_ms=500)
                    self.observer.polled(consumer)
                except KafkaError as exc:
                    self.observer.poll_failed(exc)
                    # e.g. the broker restarting: the client reconnects by itself; keep polling
                    log.warning("poll failed (%s); polling again in 1s", exc)
                    stop.wait(1)
                    continue
                if not batches:
                    continue
                # The whole poll in one transaction; failing that, each partition's records in
                # one; failing that, record by record (retries, dead letters).
                if len(batches) == 1 or not self._together([r for rs in batches.values() for r in rs]):
                    for records in batches.values():
                        if self._together(records):
                            continue
                        for record in records:
                            self._apply_until_done(producer, record, stop)
                            if stop.is_set():
                                return  # uncommitted records are redelivered; the inbox absorbs them
                crash_point("consumer.before_offset_commit")
                _commit(consumer)
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=5)

    def _together(self, records: list[ConsumerRecord]) -> bool:
        try:
            return self.apply_together(records)
        except DBAPIError:
            return False  # the one-by-one path waits for the database

    def _apply_until_done(self, producer: KafkaProducer, record: ConsumerRecord, stop) -> None:
        wait = self.backoff_s
        while not stop.is_set():
            try:
                self.observer.counted(self.apply(record))
                return
            except DeadLetter as exc:
                try:
                    self.dead_letter(producer, record, str(exc))
                    self.observer.dead_lettered(exc)
                    return
                except KafkaError as send_error:  # the DLQ is unreachable: try again, lose nothing
                    log.warning("dead-lettering failed (%s); retrying in %.1fs", send_error, wait)
                    stop.wait(wait)
                    wait = min(wait * 2, 5.0)
            except (OperationalError, DBAPIError) as exc:
                self.observer.database_failed(exc)
                log.warning("database unavailable (%s); retrying in %.1fs", exc.__class__.__name__, wait)
                stop.wait(wait)
                wait = min(wait * 2, 5.0)


def _commit(consumer: KafkaConsumer) -> None:
    try:
        consumer.commit()
    except Exception as exc:  # noqa: BLE001 - e.g. a rebalance took the partition: redelivery is safe
        log.warning("offset commit failed (%s); records will be redelivered and deduplicated", exc)
