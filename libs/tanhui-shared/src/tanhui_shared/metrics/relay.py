"""The outbox relay's metrics: backlog, age of the oldest unpublished row, throughput, batch
duration, failures; and its heartbeat for /livez and /readyz (metrics/server.py).

The backlog is measured by the relay's own loop every `sample_s` seconds, one bounded query on
the partial index of unpublished rows (outbox.py), so a scrape never touches the database.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine

from ..messaging.observers import RelayObserver
from . import REGISTRY
from .server import Health
from .workers import failure_kind

log = logging.getLogger(__name__)

# Counting stops here: beyond it the figure says "at least", and the query stays a few ms.
BACKLOG_CAP = 100_000
_BACKLOG = sa.text("""
SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT :cap) b) AS n,
       (SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest
""")

BACKLOG = Gauge("tanhui_outbox_backlog", f"Unpublished outbox rows (counted up to {BACKLOG_CAP})",
                ["service"], registry=REGISTRY)
OLDEST_AGE = Gauge("tanhui_outbox_oldest_age_seconds",
                   "Age of the oldest unpublished outbox row (0 when there is none)", ["service"],
                   registry=REGISTRY)
PUBLISHED = Counter("tanhui_relay_events_published_total",
                    "Outbox rows the broker acknowledged and the relay marked published",
                    ["service"], registry=REGISTRY)
BATCH_SECONDS = Histogram("tanhui_relay_batch_duration_seconds",
                          "Time to claim, publish and mark one non-empty batch", ["service"],
                          buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60),
                          registry=REGISTRY)
FAILURES = Counter("tanhui_relay_failures_total", "Failed passes, by what failed",
                   ["service", "kind"], registry=REGISTRY)


class RelayMetrics(RelayObserver):
    def __init__(self, service: str, engine: Engine, health: Health, sample_s: float) -> None:
        self.service, self.engine, self.health, self.sample_s = service, engine, health, sample_s
        self.next_sample = 0.0
        self._published = PUBLISHED.labels(service)
        self._batch = BATCH_SECONDS.labels(service)
        for kind in ("database", "kafka", "other"):
            FAILURES.labels(service, kind)  # present at 0, so rate() sees the first failure

    def batch_done(self, locked: int, published: int, seconds: float) -> None:
        # the pass claimed from the database and holds a producer Kafka answered
        self.health.beat()
        self.health.saw("database", True)
        self.health.saw("kafka", True)
        if locked:
            self._published.inc(published)
            self._batch.observe(seconds)
        if time.monotonic() >= self.next_sample:
            self.sample()

    def batch_failed(self, error: Exception) -> None:
        kind = failure_kind(error)
        FAILURES.labels(self.service, kind).inc()
        if kind != "other":
            self.health.saw(kind, False, error.__class__.__name__)
        self.health.beat()  # the loop turns; it is waiting for what failed

    def sample(self) -> None:
        self.next_sample = time.monotonic() + self.sample_s
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_BACKLOG, {"cap": BACKLOG_CAP}).one()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("measuring the outbox backlog failed: %s", exc.__class__.__name__)
            self.health.saw("database", False, exc.__class__.__name__)
            return
        BACKLOG.labels(self.service).set(row.n)
        age = (datetime.now(UTC) - row.oldest).total_seconds() if row.oldest else 0.0
        OLDEST_AGE.labels(self.service).set(max(age, 0.0))
