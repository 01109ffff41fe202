"""The event backbone against real PostgreSQL and real Kafka: outbox, relay, inbox, DLQ, order."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import psycopg
import pytest
from kafka import TopicPartition
import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from tanhui_shared.contracts import ACCOUNTS_TOPIC, CloudEvent, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging import InboxEntry, OutboxMessage, record_event
from tanhui_shared.messaging.kafka import make_admin, make_consumer, make_producer
from tanhui_shared.messaging.outbox import OUTBOX_CHANNEL, RELAY_ASLEEP
from tanhui_shared.messaging.relay import OutboxRelay, _Wakeup, run_relay
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.backbone_worker import POISON, PingEffect, Pinged, consumer, create_schema
from tanhui_shared.testing.kafka_reader import read_topic

GROUP = "credits"


@pytest.fixture
def backbone(infra, new_database, topic_namespace):
    url = new_database("backbone")
    engine = make_engine(url)
    create_schema(engine)
    producer = make_producer(infra.kafka_bootstrap, "test")
    yield engine, url, topic_namespace, producer
    producer.close()
    engine.dispose()


def stage(engine, pings: list[Pinged]) -> None:
    with Session(engine) as session, session.begin():
        for ping in pings:
            record_event(session, ping)


def count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def run_consumer_until(engine, infra, namespace, done, timeout_s=60, **kwargs):
    runner = consumer(engine, GROUP, namespace, **kwargs)
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run,
        args=(infra.kafka_bootstrap, lambda: make_producer(infra.kafka_bootstrap, "dlq"), stop),
    )
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert done(), "the consumer did not reach the expected state in time"
    return runner


def worker(role: str, url: str, infra, namespace: str, crash_at: str = "") -> subprocess.Popen:
    env = {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
           "TANHUI_TOPIC_NAMESPACE": namespace, "TANHUI_CRASH_AT": crash_at}
    return subprocess.Popen([sys.executable, "-m", "tanhui_shared.testing.backbone_worker", role],
                            env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)


def lag(infra, namespace) -> int:
    """Records of the topic past the group's committed offsets."""
    topic = qualified(ACCOUNTS_TOPIC, namespace)
    admin, reader = make_admin(infra.kafka_bootstrap, "test-lag"), make_consumer(infra.kafka_bootstrap)
    try:
        committed = next(iter(admin.list_group_offsets({qualified(GROUP, namespace): None}).values()))
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic)]
        ends = reader.end_offsets(partitions)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in partitions)
    finally:
        admin.close()
        reader.close()


def ids_on_topic(infra, namespace) -> Counter:
    return Counter(CloudEvent.model_validate_json(r.value).id
                   for r in read_topic(infra.kafka_bootstrap, qualified(ACCOUNTS_TOPIC, namespace)))


def test_a_rolled_back_transaction_publishes_nothing(backbone, infra):
    engine, _, namespace, producer = backbone
    with Session(engine) as session:
        session.begin()
        record_event(session, Pinged(aggregate="a", n=1))
        session.rollback()

    assert OutboxRelay(engine, producer, namespace=namespace).publish_batch() == 0
    assert ids_on_topic(infra, namespace) == Counter()


def test_a_committed_event_is_published_once(backbone, infra):
    engine, _, namespace, producer = backbone
    stage(engine, [Pinged(aggregate="a", n=1)])
    relay = OutboxRelay(engine, producer, namespace=namespace)

    assert relay.publish_batch() == 1
    assert relay.publish_batch() == 0  # marked: never sent again
    on_topic = ids_on_topic(infra, namespace)
    assert list(on_topic.values()) == [1]
    assert count(engine, OutboxMessage, col(OutboxMessage.published_at).is_(None)) == 0


def test_a_relay_killed_between_publish_and_mark_republishes_and_the_inbox_absorbs_it(backbone, infra):
    engine, url, namespace, producer = backbone
    stage(engine, [Pinged(aggregate=f"agg-{i}", n=i) for i in range(5)])

    crashed = worker("relay", url, infra, namespace, crash_at="relay.after_publish:1")
    assert crashed.wait(timeout=60) == 137
    assert count(engine, OutboxMessage, col(OutboxMessage.published_at).is_(None)) == 5
    assert sorted(ids_on_topic(infra, namespace).values()) == [1] * 5  # sent, not marked

    assert OutboxRelay(engine, producer, namespace=namespace).publish_batch() == 5
    assert sorted(ids_on_topic(infra, namespace).values()) == [2] * 5  # each id on the wire twice

    runner = run_consumer_until(engine, infra, namespace,
                                lambda: count(engine, InboxEntry) == 5, timeout_s=60)
    time.sleep(1)  # give the second copies time to arrive too
    assert count(engine, PingEffect) == 5
    assert runner.applied == 5


def test_a_consumer_killed_after_db_commit_before_offset_commit_applies_each_event_once(backbone, infra):
    engine, url, namespace, producer = backbone
    stage(engine, [Pinged(aggregate=f"agg-{i % 3}", n=i) for i in range(20)])
    assert OutboxRelay(engine, producer, namespace=namespace).publish_batch() == 20

    crashed = worker("consumer", url, infra, namespace,
                     crash_at="consumer.before_offset_commit:1")
    assert crashed.wait(timeout=60) == 137
    applied_before_crash = count(engine, PingEffect)
    assert applied_before_crash > 0  # it did commit effects, then died before the offset commit

    restarted = worker("consumer", url, infra, namespace)
    try:
        # until the restarted consumer has committed past every record: the inbox alone is full
        # before it starts, and would let it be stopped before the redelivery reached it
        deadline = time.monotonic() + 60
        while lag(infra, namespace) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lag(infra, namespace) == 0, "the restarted consumer did not catch up"
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    with Session(engine) as session:
        applied = Counter(session.exec(select(PingEffect.event_id)).all())
    assert len(applied) == 20
    assert set(applied.values()) == {1}, "an event was applied twice"


def test_a_poison_event_reaches_the_dead_letter_topic_and_the_consumer_keeps_going(backbone, infra):
    engine, _, namespace, producer = backbone
    topic = qualified(ACCOUNTS_TOPIC, namespace)
    unknown_version = CloudEvent(type="cn.tanhui.test.pinged.v9", source="/tests",
                                 data={"aggregate": "a", "n": 1})
    producer.send(topic, key=b"a", value=b"{not json").get(timeout=30)
    producer.send(topic, key=b"a", value=unknown_version.to_json()).get(timeout=30)
    stage(engine, [Pinged(aggregate="a", n=POISON), Pinged(aggregate="a", n=7)])
    OutboxRelay(engine, producer, namespace=namespace).publish_batch()

    runner = run_consumer_until(engine, infra, namespace,
                                lambda: count(engine, PingEffect) == 1, max_attempts=3)

    dead = read_topic(infra.kafka_bootstrap, qualified(f"tanhui.{GROUP}.dlq", namespace))
    errors = [dict(r.headers)["dlq-error"].decode() for r in dead]
    assert len(dead) == 3 and runner.dead_lettered == 3
    assert any("not a CloudEvents" in e for e in errors)
    assert any("pinged.v9" in e for e in errors)
    assert any("poison ping" in e for e in errors)
    assert all(dict(r.headers)["dlq-original-topic"].decode() == topic for r in dead)
    with Session(engine) as session:
        assert session.exec(select(PingEffect.n)).all() == [7]


def test_events_of_one_key_are_applied_in_order(backbone, infra):
    engine, _, namespace, producer = backbone
    for n in range(50):  # 4 aggregates interleaved, 50 events each, staged in many transactions
        stage(engine, [Pinged(aggregate=f"agg-{k}", n=n) for k in range(4)])
    relay = OutboxRelay(engine, producer, batch_size=37, namespace=namespace)
    batches = []
    # one pass, pipelined: each batch claimed while the one before it is in flight
    assert relay.drain(max_batches=10, on_batch=lambda locked, sent, _: batches.append((locked, sent))) == 15
    assert batches == [(37, 37)] * 5 + [(15, 15)], "a row was held back behind the relay's own batch"
    assert count(engine, OutboxMessage, col(OutboxMessage.published_at).is_(None)) == 0
    on_wire = defaultdict(list)
    for record in read_topic(infra.kafka_bootstrap, qualified(ACCOUNTS_TOPIC, namespace)):
        on_wire[record.key].append(CloudEvent.model_validate_json(record.value).data["n"])
    assert all(ns == list(range(50)) for ns in on_wire.values()) and len(on_wire) == 4

    run_consumer_until(engine, infra, namespace, lambda: count(engine, PingEffect) == 200)
    assert_in_key_order(engine)


def assert_in_key_order(engine) -> None:
    by_key: dict[str, list[int]] = defaultdict(list)
    with Session(engine) as session:
        for aggregate, n in session.exec(select(PingEffect.aggregate, PingEffect.n)
                                         .order_by(col(PingEffect.id))).all():
            by_key[aggregate].append(n)
    for aggregate, ns in by_key.items():
        assert ns == sorted(ns), f"{aggregate} applied out of order"


def test_two_relays_and_two_consumers_lose_and_duplicate_nothing_over_5000_events(backbone, infra):
    engine, url, namespace, _ = backbone
    total = 5_000
    for start in range(0, total, 1_000):
        stage(engine, [Pinged(aggregate=f"agg-{i % 40}", n=i) for i in range(start, start + 1_000)])
    with Session(engine) as session:
        staged = set(session.exec(select(OutboxMessage.event_id)).all())

    started = time.monotonic()
    procs = [worker(role, url, infra, namespace) for role in ("relay", "relay", "consumer", "consumer")]
    try:
        deadline = time.monotonic() + 240
        while count(engine, InboxEntry) < total and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), "a worker died"
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        time.sleep(2)  # anything applied twice would show up now
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)

    with Session(engine) as session:
        applied = Counter(session.exec(select(PingEffect.event_id)).all())
        appliers = set(session.exec(select(PingEffect.applied_by)).all())
    on_wire = ids_on_topic(infra, namespace)
    print(f"\n[backbone] {total} events through 2 relays + 2 consumers in {elapsed:.1f}s "
          f"({total / elapsed:.0f} events/s); {sum(on_wire.values()) - len(on_wire)} re-sends on the wire")
    assert set(applied) == staged, "an event was lost"
    assert set(applied.values()) == {1}, "an event was applied twice"
    assert set(on_wire) == staged
    # each row locked by one relay until marked: none on the wire twice (the inbox would hide it)
    assert sum(on_wire.values()) == len(on_wire), "rows were sent by both relays"
    assert len(appliers) == 2, "both consumer instances should have taken partitions"
    assert count(engine, OutboxMessage, col(OutboxMessage.published_at).is_(None)) == 0
    assert_in_key_order(engine)


def test_a_relay_never_publishes_a_key_ahead_of_an_earlier_row_another_relay_holds(backbone, infra):
    engine, _, namespace, producer = backbone
    stage(engine, [Pinged(aggregate="held", n=0)])
    stage(engine, [Pinged(aggregate="held", n=1), Pinged(aggregate="free", n=2)])
    with Session(engine) as other_relay:
        other_relay.begin()  # another relay has locked the key's first row, mid-publish
        other_relay.exec(select(OutboxMessage).where(OutboxMessage.seq == select(
            func.min(OutboxMessage.seq)).scalar_subquery()).with_for_update()).one()
        OutboxRelay(engine, producer, namespace=namespace).publish_batch()
        with Session(engine) as session:
            published = set(session.exec(select(OutboxMessage.key, OutboxMessage.seq)
                                         .where(col(OutboxMessage.published_at).is_not(None))).all())
        assert {key for key, _ in published} == {"free"}, "held's second event overtook its first"
        other_relay.rollback()
    relay = OutboxRelay(engine, producer, namespace=namespace)
    while relay.publish_batch():
        pass
    ns = [CloudEvent.model_validate_json(r.value).data["n"] for r in
          read_topic(infra.kafka_bootstrap, qualified(ACCOUNTS_TOPIC, namespace)) if r.key == b"held"]
    assert ns == [0, 1]



# The relay's own connections (application_name below): true once it has LISTENed, made a
# pass, fallen asleep and looked at the outbox a last time, i.e. it now waits for a
# notification or its poll.
_RELAY_WAITS = sa.text("""
SELECT count(*) FROM pg_stat_activity l
WHERE l.application_name = 'test-relay' AND l.query LIKE 'SELECT EXISTS (SELECT FROM outbox%'
  AND l.state = 'idle'""")


def test_a_committed_event_wakes_the_idle_relay_before_its_poll(backbone, infra):
    """The outbox's NOTIFY trigger wakes the relay at commit: with an idle poll of ten minutes,
    only the notification can get an event out within the test's minute."""
    engine, url, namespace, _ = backbone
    relay_engine = make_engine(f"{url}?application_name=test-relay")
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(
        relay_engine, lambda: make_producer(infra.kafka_bootstrap, "test-relay"), 500, 600.0, stop,
        namespace))
    relay.start()
    try:
        deadline = time.monotonic() + 60
        with engine.connect() as conn:
            while not conn.execute(_RELAY_WAITS).scalar() and time.monotonic() < deadline:
                time.sleep(0.1)
                conn.rollback()  # a new snapshot of pg_stat_activity
        stage(engine, [Pinged(aggregate="wake", n=1)])
        unpublished = col(OutboxMessage.published_at).is_(None)
        while count(engine, OutboxMessage, unpublished) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count(engine, OutboxMessage, unpublished) == 0, "the relay slept through the commit"
    finally:
        stop.set()
        relay.join(timeout=30)
        relay_engine.dispose()
    assert not relay.is_alive(), "the relay did not stop while waiting for a notification"


def test_a_writer_notifies_only_while_a_relay_sleeps(backbone):
    """A commit that notifies queues for one lock of the whole server through its WAL flush
    (issue 15), so writers notify only while a relay sleeps (it then holds RELAY_ASLEEP)."""
    engine, url, _, _ = backbone
    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(plain, autocommit=True) as listener, \
            psycopg.connect(plain, autocommit=True) as relay:
        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
        stage(engine, [Pinged(aggregate="relay-at-work", n=1)])
        assert list(listener.notifies(timeout=0.5)) == []  # the relay looks again anyway
        relay.execute(f"SELECT pg_advisory_lock({RELAY_ASLEEP})")  # as _Wakeup falls asleep
        stage(engine, [Pinged(aggregate="relay-asleep", n=2)])
        assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1


def test_a_relay_falls_asleep_after_the_writers_that_found_it_awake(backbone):
    """A writer that found no relay asleep did not notify: a relay falling asleep meanwhile
    waits for it to commit, then sees its row and does not sleep."""
    engine, url, _, _ = backbone
    relay_engine = make_engine(url, pool_size=1)
    wakeup = _Wakeup(relay_engine)
    stop = threading.Event()
    wakeup.wait(600, stop)  # connects and LISTENs
    try:
        with Session(engine) as session, session.begin():
            record_event(session, Pinged(aggregate="in-flight", n=1))
            session.flush()  # the trigger has run: RELAY_ASLEEP held shared until the commit
            falling = threading.Thread(target=wakeup.wait, args=(600, stop))
            falling.start()
            time.sleep(0.1)
        falling.join(timeout=5)
        assert not falling.is_alive(), "the relay slept through a row committed meanwhile"
    finally:
        stop.set()
        wakeup.close()
        relay_engine.dispose()
