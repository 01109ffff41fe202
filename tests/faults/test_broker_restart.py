"""The Kafka broker stops and restarts mid-stream: relay and consumer recover by themselves and
every committed event is applied exactly once. On a broker of the test's own."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter

from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_shared.db import make_engine
from tanhui_shared.messaging import InboxEntry, OutboxMessage, record_event
from tanhui_shared.messaging.kafka import ensure_topics
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.backbone_worker import PingEffect, Pinged, create_schema

from fault_support import private_kafka, report, wait_for


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(tmp_path, new_database):
    bootstrap, kafka = private_kafka(tmp_path / "var")
    procs: list[subprocess.Popen] = []
    try:
        ensure_topics(bootstrap, "restart")
        url = new_database("broker")
        engine = make_engine(url)
        create_schema(engine)
        env = {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_KAFKA_BOOTSTRAP": bootstrap,
               "TANHUI_TOPIC_NAMESPACE": "restart"}
        # the workers' logs stay beside the broker's, for when recovery goes wrong
        procs = [subprocess.Popen([sys.executable, "-m", "tanhui_shared.testing.backbone_worker", role],
                                  env=env, cwd=REPO_ROOT,
                                  stderr=open(tmp_path / f"{role}.log", "wb"))  # noqa: SIM115
                 for role in ("relay", "consumer")]

        committed = 0
        stop = threading.Event()

        def business() -> None:  # committed state changes, each "acknowledged to a client"
            nonlocal committed
            n = 0
            while not stop.is_set():
                with Session(engine) as session, session.begin():
                    for _ in range(20):
                        record_event(session, Pinged(aggregate=f"agg-{n % 12}", n=n))
                        n += 1
                committed = n
                time.sleep(0.05)

        writer = threading.Thread(target=business)
        writer.start()
        wait_for(lambda: count(engine, InboxEntry) > 500, 60, "events flowing before the restart")
        restart_at = time.monotonic()
        kafka.stop()
        time.sleep(3)
        kafka.start()
        broker_back_s = time.monotonic() - restart_at
        time.sleep(3)
        stop.set()
        writer.join()
        recovered_s = wait_for(lambda: count(engine, InboxEntry) == committed, 120,
                               f"every committed event applied after the restart (logs in {tmp_path})")
        time.sleep(1)
        assert all(p.poll() is None for p in procs), "relay and consumer must survive the outage"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        kafka.ensure_stopped()

    with Session(engine) as session:
        per_event = Counter(session.exec(select(PingEffect.event_id)).all())
        unpublished = session.exec(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.published_at.is_(None))).one()
    report("broker-restart", committed=committed, applied=len(per_event),
           broker_back_s=broker_back_s, seconds_to_catch_up=recovered_s)
    assert len(per_event) == committed, "a committed event was lost"
    assert set(per_event.values()) == {1}, "an event was applied twice"
    assert unpublished == 0
