"""A minimal service for testing the backbone itself: one event type, one effect table.

Run as a real process (`python -m tanhui_shared.testing.backbone_worker relay|consumer`) so fault
tests can kill it at a crash point (`TANHUI_CRASH_AT`) like any service process.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from ..contracts import ACCOUNTS_TOPIC, CONTRACTS, CloudEvent, EventContract
from ..db import make_engine
from ..logs import configure_logging
from ..uow import UnitOfWork
from ..messaging.consumer import ConsumerRunner
from ..messaging.kafka import make_producer
from ..messaging.outbox import InboxEntry, OutboxMessage, utcnow
from ..messaging.relay import RELAY_LINGER_MS, run_relay
from ..service import stop_on_signals


class Pinged(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.test.pinged.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC  # inside the test's own topic namespace
    SOURCE: ClassVar[str] = "/tests/backbone"

    aggregate: str
    n: int

    def aggregate_id(self) -> str:
        return self.aggregate


class PingEffect(SQLModel, table=True):
    """Append-only on purpose (no unique key): applying an event twice would show as two rows."""

    __tablename__ = "ping_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    aggregate: str
    n: int
    applied_by: int  # pid, to see which consumer instance applied it
    applied_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


POISON = -1


def apply_ping(uow: UnitOfWork, event: CloudEvent, ping: Pinged) -> None:
    if ping.n == POISON:
        raise ValueError("poison ping: this handler can never apply it")
    uow.session.add(PingEffect(event_id=event.id, aggregate=ping.aggregate, n=ping.n,
                           applied_by=os.getpid()))


CONTRACTS_WITH_PING = {**CONTRACTS, Pinged.TYPE: Pinged}


def create_schema(engine: Engine) -> None:
    tables = [OutboxMessage.__table__, InboxEntry.__table__, PingEffect.__table__]
    SQLModel.metadata.create_all(engine, tables=tables)


def consumer(engine: Engine, group: str, namespace: str, max_attempts: int = 3,
             instance_id: str | None = None) -> ConsumerRunner:
    return ConsumerRunner(group=group, topics=[ACCOUNTS_TOPIC], handlers={Pinged.TYPE: apply_ping},
                          engine=engine, dlq_topic=f"tanhui.{group}.dlq", max_attempts=max_attempts,
                          backoff_s=0.05, namespace=namespace, contracts=CONTRACTS_WITH_PING,
                          session_timeout_ms=6_000, instance_id=instance_id)


def main() -> None:
    role = sys.argv[1]
    configure_logging(f"backbone-{role}")
    engine = make_engine(os.environ["TANHUI_DATABASE_URL"], pool_size=2)
    bootstrap = os.environ["TANHUI_KAFKA_BOOTSTRAP"]
    namespace = os.environ["TANHUI_TOPIC_NAMESPACE"]
    stop = stop_on_signals()
    if role == "relay":
        run_relay(engine, lambda: make_producer(bootstrap, "test-relay", RELAY_LINGER_MS), 500, 0.02,
                  stop, namespace)
    else:
        consumer(engine, os.environ.get("TANHUI_CONSUMER_GROUP", "credits"), namespace,
                 instance_id=os.environ.get("TANHUI_CONSUMER_INSTANCE_ID") or None).run(
            bootstrap, lambda: make_producer(bootstrap, "test-dlq"), stop)


if __name__ == "__main__":
    main()
