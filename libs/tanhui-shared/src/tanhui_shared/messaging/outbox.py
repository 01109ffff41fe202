"""Outbox and inbox tables, and `record_event`, the only way a service emits an event.

An event is written in the same transaction as the state change that caused it; the relay
publishes it later. A rolled-back transaction therefore publishes nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from ..context import causation_id_var, request_id_var
from ..contracts import CloudEvent, EventContract
from ..tracing import traceparent_of

if TYPE_CHECKING:  # only migrations need Alembic; services would pay a second to import it
    from alembic.operations import Operations


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        # The relay only ever looks for unpublished rows; keep that lookup small as the table grows.
        sa.Index("ix_outbox_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
        sa.Index("ix_outbox_key_unpublished", "key", "seq",
                 postgresql_where=sa.text("published_at IS NULL")),
    )

    seq: int | None = Field(default=None, primary_key=True)  # publication order
    event_id: str = Field(unique=True)
    topic: str
    key: str
    envelope: str = Field(sa_type=sa.Text)  # the CloudEvents JSON exactly as it will go on the wire
    # The envelope's attributes the relay repeats as Kafka headers, written with the row so the
    # relay sends them without parsing the envelope (json.loads was a third of its own CPU per
    # event). NULL event_type: a row written before these columns, or by a writer that does not
    # fill them (credits' hot_listing_sale): the relay reads that row's envelope instead.
    event_type: str | None = Field(default=None)
    correlation_id: str | None = Field(default=None)
    traceparent: str | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    published_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


# A statement that inserts outbox rows while a relay sleeps notifies this channel; PostgreSQL
# delivers it at commit (never after a rollback), once per transaction (identical
# notifications fold), so the relay LISTENing on it wakes as soon as there is something to
# publish, not at its next poll.
# Only while a relay sleeps (issue 15): a transaction that notifies takes one lock for the
# whole server at commit and holds it through its WAL flush, so every notifying commit of
# every database queued there, one flush each; 8 threads retiring credits ran 40-60% faster
# without it. A sleeping relay holds RELAY_ASLEEP (a session advisory lock, per database):
# a writer that finds it held notifies. A writer that finds it free holds it shared until its
# own commit, so a relay going to sleep waits for such writers to end, then looks at the
# outbox once more (relay._Wakeup): no committed row is left waiting for the idle poll.
OUTBOX_CHANNEL = "tanhui_outbox"
RELAY_ASLEEP = 15_002  # credits' audit sequencer has 15_001; no other advisory locks
_NOTIFY_FUNCTION = (
    "CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF NOT pg_try_advisory_xact_lock_shared({RELAY_ASLEEP}) THEN "
    f"PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); END IF; RETURN NULL; END $$")
# as the trigger was first added (migrations before the function above): every commit notified
_NOTIFY_ALWAYS = ("CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
                  f"$$ BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$")
_NOTIFY_TRIGGER = ("CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
                   "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()")
for _ddl in (_NOTIFY_FUNCTION, _NOTIFY_TRIGGER):  # create_all (tests, benches) installs it too
    sa.event.listen(OutboxMessage.__table__, "after_create", sa.DDL(_ddl))


class InboxEntry(SQLModel, table=True):
    """One row per (consumer group, event id) applied: a second delivery finds it and is skipped."""

    __tablename__ = "inbox"

    consumer_group: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    event_type: str
    processed_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


def outbox_row(contract: EventContract) -> tuple[CloudEvent, dict]:
    """`contract`'s envelope, and the outbox row (column values) that publishes it."""
    traceparent, tracestate = traceparent_of()  # the request's or the consumed event's span
    envelope = CloudEvent(
        type=contract.TYPE,
        source=contract.SOURCE,
        subject=contract.aggregate_id(),
        data=contract.model_dump(mode="json"),
        correlationid=request_id_var.get(),
        causationid=causation_id_var.get(),
        traceparent=traceparent,
        tracestate=tracestate,
    )
    return envelope, {"event_id": envelope.id, "topic": contract.TOPIC,
                      "key": contract.aggregate_id(), "envelope": envelope.to_json().decode(),
                      "event_type": envelope.type, "correlation_id": envelope.correlationid,
                      "traceparent": envelope.traceparent, "created_at": utcnow()}


def record_event(session: Session, contract: EventContract) -> CloudEvent:
    """Stage `contract` for publication in the caller's transaction; returns its envelope.
    (A unit of work stages it through `UnitOfWork.emit`, with its other last writes.)"""
    envelope, row = outbox_row(contract)
    session.add(OutboxMessage(**row))
    return envelope


def create_messaging_tables(op: Operations) -> None:
    """Used by every service's first migration, so the outbox and inbox are identical everywhere."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String, nullable=False, unique=True),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_key_unpublished", "outbox", ["key", "seq"],
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.String, primary_key=True),
        sa.Column("event_id", sa.String, primary_key=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_outbox_notify(op: Operations) -> None:
    """The outbox's NOTIFY trigger as first added (every commit notified), in every service's
    migration that adds it; notify_while_a_relay_sleeps replaces its function later."""
    op.execute(_NOTIFY_ALWAYS)
    op.execute(_NOTIFY_TRIGGER)


def notify_while_a_relay_sleeps(op: Operations) -> None:
    """The trigger's function as it is now (in every service's migration that replaces it)."""
    op.execute(_NOTIFY_FUNCTION)


def notify_always(op: Operations) -> None:
    """Back to the function every commit notified by (their downgrades)."""
    op.execute(_NOTIFY_ALWAYS)


def drop_outbox_notify(op: Operations) -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION outbox_notify()")


# The envelope attributes the relay repeats as Kafka headers, each a nullable column of outbox.
HEADER_COLUMNS = ("event_type", "correlation_id", "traceparent")


# IF NOT EXISTS: a test that runs today's use cases on an older revision adds them first.
HEADER_COLUMNS_DDL = tuple(f"ALTER TABLE outbox ADD COLUMN IF NOT EXISTS {column} VARCHAR"
                           for column in HEADER_COLUMNS)


def add_outbox_header_columns(op: Operations) -> None:
    """The outbox's header columns, in every service's migration that adds them: nullable, as
    rows written before them (and writers that do not fill them) are sent with headers read from
    their envelopes."""
    for statement in HEADER_COLUMNS_DDL:
        op.execute(statement)


def drop_outbox_header_columns(op: Operations) -> None:
    for column in reversed(HEADER_COLUMNS):
        op.drop_column("outbox", column)


def drop_messaging_tables(op: Operations) -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_key_unpublished", "outbox")
    op.drop_index("ix_outbox_unpublished", "outbox")
    op.drop_table("outbox")
