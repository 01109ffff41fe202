"""Retention of the messaging tables on a real service database: what the policy no longer
keeps goes, in batches; an unpublished event and a recent dedup key never do."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tanhui_shared.db import make_engine
from tanhui_shared.messaging import retention
from tanhui_shared.messaging.outbox import InboxEntry, OutboxMessage, utcnow
from tanhui_shared.messaging.retention import RetentionPolicy, prune
from tanhui_shared.web.idempotency import IdempotencyRecord

pytestmark = pytest.mark.infra


def _outbox(at, published_days_ago):
    published = None if published_days_ago is None else at - timedelta(days=published_days_ago)
    return OutboxMessage(event_id=str(uuid.uuid4()), topic="tanhui.credits.v1", key="k",
                         envelope="{}", created_at=at - timedelta(days=40), published_at=published)


def test_prune_keeps_what_can_still_be_needed(migrated_database, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 3)  # several batches per table
    engine = make_engine(migrated_database("credits"), pool_size=1)
    now = utcnow()
    with Session(engine) as session:
        old_published = [_outbox(now, 8) for _ in range(7)]
        session.add_all(old_published)
        session.add_all([_outbox(now, 2), _outbox(now, None)])  # recent; never published
        session.add_all([InboxEntry(consumer_group="credits", event_id=f"old-{i}", event_type="t",
                                    processed_at=now - timedelta(days=36)) for i in range(5)])
        session.add(InboxEntry(consumer_group="credits", event_id="recent", event_type="t",
                               processed_at=now - timedelta(days=31)))
        session.add_all([IdempotencyRecord(scope="u", key=f"k{i}", fingerprint="f", status_code=201,
                                           response_body="{}", created_at=now - timedelta(days=8))
                         for i in range(4)])
        session.add(IdempotencyRecord(scope="u", key="fresh", fingerprint="f", status_code=201,
                                      response_body="{}", created_at=now - timedelta(hours=1)))
        session.commit()

    pruned = prune(engine, RetentionPolicy(), now)
    assert (pruned.outbox, pruned.inbox, pruned.idempotency) == (7, 5, 4)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT published_at IS NULL FROM outbox ORDER BY seq")).scalars().all()
        assert left == [False, True]  # the 2-day-old published row and the unpublished one
        assert conn.execute(sa.text("SELECT event_id FROM inbox")).scalars().all() == ["recent"]
        assert conn.execute(sa.text("SELECT key FROM idempotency_record")).scalars().all() == ["fresh"]
    assert prune(engine, RetentionPolicy(), now) == retention.Pruned(0, 0, 0)  # idempotent
    engine.dispose()


def test_an_unpublished_event_is_kept_however_old(migrated_database):
    engine = make_engine(migrated_database("accounts"), pool_size=1)
    now = utcnow()
    with Session(engine) as session:
        session.add(_outbox(now - timedelta(days=400), None))
        session.commit()
    assert prune(engine, RetentionPolicy(outbox_days=1), now).outbox == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() == 1
    engine.dispose()


def test_an_inbox_age_shorter_than_what_kafka_keeps_is_refused():
    with pytest.raises(ValueError, match="would forget events Kafka still keeps for 30 days"):
        RetentionPolicy(inbox_days=30).check()
    RetentionPolicy(inbox_days=31).check()
