"""A consumer killed with SIGKILL four times while 3,000 events flow (at a fifth, two fifths...
of them applied): each event is applied exactly once and the group's lag returns to zero."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_shared.contracts import ACCOUNTS_TOPIC, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging import InboxEntry, record_event
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.messaging.relay import OutboxRelay
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.backbone_worker import PingEffect, Pinged, create_schema

from fault_support import report, wait_for

EVENTS = 3_000  # 20,000 before issue 12, 12,000 before issue 13, 6,000 before the suite's 15 min
# Kills are paced by the consumer's progress, not by a clock: a fixed cadence saw a single kill
# when applying went fast, and on a slow machine could kill each process before it applied
# anything. Each kill waits until the running process has applied events of its own and the
# count has crossed the next fifth.
KILLS = 4
# The restarted process keeps its static group-membership id, as a restarted pod would.
INSTANCE_ID = "credits-consumer-0"


def lag(bootstrap: str, namespace: str) -> int:
    topic = qualified(ACCOUNTS_TOPIC, namespace)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({qualified("credits", namespace): None})
        offsets = next(iter(committed.values()))
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
        return sum(ends[tp] - (offsets[tp].offset if tp in offsets else 0) for tp in partitions)
    finally:
        admin.close()
        consumer.close()


def test_a_consumer_killed_four_times_mid_stream_applies_3000_events_exactly_once(
        infra, new_database, topic_namespace):
    url = new_database("crash")
    engine = make_engine(url)
    create_schema(engine)
    for start in range(0, EVENTS, 2_000):
        with Session(engine) as session, session.begin():
            for n in range(start, min(start + 2_000, EVENTS)):
                record_event(session, Pinged(aggregate=f"agg-{n % 50}", n=n))
    producer = make_producer(infra.kafka_bootstrap, "fault-relay")
    relay = OutboxRelay(engine, producer, batch_size=2_000, namespace=topic_namespace)
    while relay.publish_batch():
        pass
    producer.close()

    env = {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
           "TANHUI_TOPIC_NAMESPACE": topic_namespace, "TANHUI_CONSUMER_INSTANCE_ID": INSTANCE_ID}
    argv = [sys.executable, "-m", "tanhui_shared.testing.backbone_worker", "consumer"]

    def applied() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(InboxEntry)).one()

    started = time.monotonic()
    kills = 0
    consumer = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    try:
        for k in range(1, KILLS + 1):
            at_start = applied()
            threshold = max(EVENTS * k // (KILLS + 1), at_start + 1)
            wait_for(lambda: applied() >= threshold, 120,
                     f"the consumer applying {threshold} events", poll_s=0.02)
            if applied() >= EVENTS:
                break
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
            kills += 1
            consumer = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
        wait_for(lambda: applied() >= EVENTS, 240, f"all {EVENTS} events applied")
        applied_s = time.monotonic() - started
        recovery_s = wait_for(lambda: lag(infra.kafka_bootstrap, topic_namespace) == 0, 60,
                              "consumer lag back to zero")
    finally:
        consumer.terminate()
        consumer.wait(timeout=30)

    with Session(engine) as session:
        per_event = Counter(session.exec(select(PingEffect.event_id)).all())
    report("consumer-crash", events=EVENTS, kills=kills, seconds_to_apply_all=applied_s,
           seconds_to_zero_lag=recovery_s)
    assert kills >= 3, "the consumer should have been killed several times mid-stream"
    assert len(per_event) == EVENTS, "an event was lost"
    assert set(per_event.values()) == {1}, "an event was applied twice"
