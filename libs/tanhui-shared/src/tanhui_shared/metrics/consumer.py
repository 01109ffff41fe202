"""The consumer's metrics: lag per partition, handler latency by event type, outcomes,
dead letters by reason class, failures; and its heartbeat for /livez and /readyz.

Lag is measured by the consumer's own loop (a KafkaConsumer is not thread-safe) every
`sample_s` seconds: the broker's end offset of each assigned partition minus the consumer's
position, one ListOffsets request (for partition 0 of each topic while none is assigned); the
same turn pings the database (SELECT 1), so an idle consumer still knows whether both answer.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa
from kafka import TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from ..contracts.envelope import MalformedEvent, UnknownEventType
from ..messaging.consumer import ForeignEvent
from ..messaging.observers import ConsumerObserver
from . import LATENCY_BUCKETS, REGISTRY
from .server import Health
from .workers import failure_kind

log = logging.getLogger(__name__)

LAG = Gauge("tanhui_consumer_lag", "Records on the partition the group has not consumed yet "
            "(broker end offset minus the consumer's position)", ["service", "topic", "partition"],
            registry=REGISTRY)
HANDLER_SECONDS = Histogram("tanhui_consumer_handler_duration_seconds",
                            "Time a handler took for one event (inside its transaction)",
                            ["service", "event_type"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
EVENTS = Counter("tanhui_consumer_events_total", "Records by outcome: applied, duplicate "
                 "(already in the inbox) or ignored (a type this group does not handle)",
                 ["service", "outcome"], registry=REGISTRY)
DEAD_LETTERS = Counter("tanhui_consumer_dead_letters_total", "Records sent to the DLQ, by reason",
                       ["service", "reason"], registry=REGISTRY)
FAILURES = Counter("tanhui_consumer_failures_total", "Polls, lag measurements and applies that "
                   "failed for want of a dependency", ["service", "kind"], registry=REGISTRY)

OUTCOMES = ("applied", "duplicate", "ignored")
REASONS = ("malformed", "unknown_type", "foreign", "invalid_data", "handler_failed")


def dead_letter_reason(error: BaseException) -> str:
    """The bounded reason class of a DeadLetter (consumer.py raises it from its cause)."""
    cause = error.__cause__
    if isinstance(cause, MalformedEvent):
        return "malformed"
    if isinstance(cause, UnknownEventType):
        return "unknown_type"
    if isinstance(cause, ForeignEvent):
        return "foreign"
    if isinstance(cause, ValidationError):
        return "invalid_data"  # the data does not fit its contract
    return "handler_failed"  # retried max_attempts times


class ConsumerMetrics(ConsumerObserver):
    def __init__(self, service: str, engine: Engine, health: Health, sample_s: float) -> None:
        self.service, self.engine, self.health, self.sample_s = service, engine, health, sample_s
        self.next_sample = 0.0
        self.lagging: set[tuple[str, str]] = set()  # the series LAG has, to drop revoked ones
        for outcome in OUTCOMES:
            EVENTS.labels(service, outcome)
        for reason in REASONS:
            DEAD_LETTERS.labels(service, reason)
        for kind in ("database", "kafka", "other"):
            FAILURES.labels(service, kind)

    def timed(self, event_type: str, handler: Callable) -> Callable:
        observed = HANDLER_SECONDS.labels(self.service, event_type)

        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return handler(*args, **kwargs)
            finally:
                observed.observe(time.perf_counter() - started)
        return run

    def polled(self, consumer) -> None:
        self.health.beat()
        if "kafka" not in self.health.seen:
            self.health.saw("kafka", True)  # the consumer was made: the broker answered it
        if time.monotonic() >= self.next_sample:
            self.next_sample = time.monotonic() + self.sample_s
            self.sample(consumer)

    def poll_failed(self, error: Exception) -> None:
        self._failed(error)

    def database_failed(self, error: Exception) -> None:
        self._failed(error)

    def counted(self, outcome: str, n: int = 1) -> None:
        if n:
            EVENTS.labels(self.service, outcome).inc(n)
            self.health.beat()

    def dead_lettered(self, error: Exception) -> None:
        DEAD_LETTERS.labels(self.service, dead_letter_reason(error)).inc()
        self.health.beat()

    def _failed(self, error: Exception) -> None:
        kind = failure_kind(error)
        FAILURES.labels(self.service, kind).inc()
        if kind != "other":
            self.health.saw(kind, False, error.__class__.__name__)
        self.health.beat()  # the loop turns, waiting for what failed

    def sample(self, consumer) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            self.health.saw("database", True)
        except sa.exc.SQLAlchemyError as exc:
            self._failed(exc)
        assigned = list(consumer.assignment() or ())
        # Not assigned yet (joining) or a standby: partition 0 of each subscribed topic still
        # asks the broker whether it answers.
        asked = assigned or [TopicPartition(t, 0) for t in sorted(consumer.subscription() or ())]
        try:
            ends = consumer.end_offsets(asked, timeout_ms=5_000) if asked else {}
            lags = {}
            for tp in assigned:
                position = consumer.position(tp, timeout_ms=1_000)
                if position is not None:  # None: not fetched from yet, nothing to compare
                    lags[(tp.topic, str(tp.partition))] = max(ends[tp] - position, 0)
        except Exception as exc:  # noqa: BLE001 - a measurement must never stop the consumer
            log.warning("measuring the consumer lag failed: %s", exc.__class__.__name__)
            self._failed(exc)
            return
        self.health.saw("kafka", True)
        for key in self.lagging - lags.keys():
            LAG.remove(self.service, *key)  # a partition another member took: its lag is theirs
        for (topic, partition), lag in lags.items():
            LAG.labels(self.service, topic, partition).set(lag)
        self.lagging = set(lags)
