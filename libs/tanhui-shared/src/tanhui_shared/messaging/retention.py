"""Retention of the messaging tables every service has: published outbox rows, inbox rows and
idempotency records are pruned once nothing can need them.

`python -m tanhui_shared.messaging.retention SERVICE... [--every SECONDS]` prunes each service's
database, once or on a schedule: TANHUI_<SERVICE>_DATABASE_URL, else (one service)
TANHUI_DATABASE_URL, else in development the service's local database. Never pruned: an outbox row not yet
published (the relay still owes it to Kafka).

Why each age is safe:
- a published outbox row is already on Kafka; the relay never reads it again;
- an inbox row is what stops a redelivered event from being applied twice, so it must outlive
  every copy of the event a consumer could still read: the topics keep events for at most
  `max(retention_hours)` of contracts/topics.toml (dead letters, which can be replayed, 30 days).
  The policy refuses an inbox age that is not longer than that;
- an idempotency record answers a client's retry of the same request; clients retry within
  minutes (Stripe keeps keys 24 hours); after 7 days a reused key is a new request (platform
  assumption). Trips stay unique per (citizen, external id) in the database regardless.
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from ..contracts.topics import topic_plan
from .outbox import utcnow

log = logging.getLogger(__name__)

BATCH = 5_000  # rows per transaction: short locks, and a crash loses at most one batch's work


class RetentionPolicy(BaseSettings):
    """Ages in days, from TANHUI_RETENTION_OUTBOX_DAYS, _INBOX_DAYS, _IDEMPOTENCY_DAYS."""

    model_config = SettingsConfigDict(env_prefix="TANHUI_RETENTION_", extra="ignore")

    outbox_days: int = 7
    inbox_days: int = 35
    idempotency_days: int = 7

    def check(self) -> None:
        longest_hours = max(spec.retention_hours for profile in ("local", "production")
                            for spec in topic_plan(profile))
        if self.inbox_days * 24 <= longest_hours:
            raise ValueError(
                f"TANHUI_RETENTION_INBOX_DAYS={self.inbox_days} would forget events Kafka still keeps "
                f"for {longest_hours // 24} days: a redelivered or replayed one would be applied twice. "
                f"Use more than {longest_hours // 24} days.")
        if min(self.outbox_days, self.idempotency_days) < 1:
            raise ValueError("retention ages are whole days, at least 1")


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int
    idempotency: int


_PRUNE = {
    # the primary key's order is publication order: old published rows come first
    "outbox": "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE published_at IS NOT NULL "
              "AND published_at < :cutoff ORDER BY seq LIMIT :batch)",
    "inbox": "DELETE FROM inbox WHERE (consumer_group, event_id) IN (SELECT consumer_group, event_id "
             "FROM inbox WHERE processed_at < :cutoff LIMIT :batch)",
    "idempotency": "DELETE FROM idempotency_record WHERE (scope, key) IN (SELECT scope, key FROM "
                   "idempotency_record WHERE created_at < :cutoff LIMIT :batch)",
}


def prune(engine: Engine, policy: RetentionPolicy, now: datetime | None = None) -> Pruned:
    """Delete what the policy no longer keeps, in batches; returns how many rows of each."""
    policy.check()
    now = now or utcnow()
    ages = {"outbox": policy.outbox_days, "inbox": policy.inbox_days,
            "idempotency": policy.idempotency_days}
    counts = {}
    for table, statement in _PRUNE.items():
        cutoff = now - timedelta(days=ages[table])
        total = 0
        while True:
            with engine.begin() as conn:
                deleted = conn.execute(sa.text(statement), {"cutoff": cutoff, "batch": BATCH}).rowcount
            total += deleted
            if deleted < BATCH:
                break
        counts[table] = total
    return Pruned(**counts)


def _database_url(service: str, single: bool) -> str:
    import os

    from ..settings import ServiceSettings

    named = os.environ.get(f"TANHUI_{service.upper()}_DATABASE_URL")
    if named:
        return named
    if single:
        return ServiceSettings(service_name=service).effective_database_url()
    raise SystemExit(f"set TANHUI_{service.upper()}_DATABASE_URL: pruning several services' "
                     "databases in one process needs each one's URL")


def main() -> None:
    from ..db import make_engine
    from ..logs import configure_logging
    from ..metrics.jobs import run_once, serve_job_metrics
    from ..service import stop_on_signals

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="+", choices=["accounts", "verification", "credits"])
    parser.add_argument("--every", type=float, default=0,
                        help="seconds between runs; 0 (default) runs once and exits")
    args = parser.parse_args()
    configure_logging("retention", "INFO")
    policy = RetentionPolicy()
    policy.check()
    single = len(args.services) == 1
    engines = {svc: make_engine(_database_url(svc, single), pool_size=1) for svc in args.services}
    stop = stop_on_signals()
    if not args.every:  # a single run by an operator: a failure is its exit status
        for service, engine in engines.items():
            _report(service, prune(engine, policy))
        return
    serve_job_metrics()
    while True:
        for service, engine in engines.items():
            pruned = run_once("retention", lambda engine=engine: prune(engine, policy))
            if pruned is not None:
                _report(service, pruned)
        if stop.wait(args.every):
            return


def _report(service: str, pruned: Pruned) -> None:
    from ..metrics.jobs import ROWS

    for table in ("outbox", "inbox", "idempotency"):
        ROWS.labels("retention", f"{service}.{table}").inc(getattr(pruned, table))
    log.info("%s: pruned %d outbox, %d inbox, %d idempotency rows", service, pruned.outbox,
             pruned.inbox, pruned.idempotency)


if __name__ == "__main__":
    main()
