"""Malformed JSON, an unknown type and an unknown version on every topic of the running
platform: each consuming group dead-letters them and keeps going."""
from __future__ import annotations

import uuid

import httpx

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, CREDITS_TOPIC, VERIFICATION_TOPIC, CloudEvent,
                                     dlq_topic, qualified)
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.testing.kafka_reader import read_topic

from e2e_support import eventually, register_and_login
from fault_support import report

# Which consumer groups read which topic (each service's events/handlers.py TOPICS).
READERS = {
    ACCOUNTS_TOPIC: ("credits", "verification"),
    VERIFICATION_TOPIC: ("credits",),
    CREDITS_TOPIC: ("accounts", "verification"),
}


def poison(marker: str, source: str) -> list[bytes]:
    unknown_type = CloudEvent(type="cn.tanhui.nobody.knows_this.v1", source=source, data={})
    unknown_version = CloudEvent(type="cn.tanhui.accounts.user_registered.v99", source=source,
                                 data={"user_id": marker})
    return [b"{this is not json " + marker.encode(), unknown_type.to_json(), unknown_version.to_json()]


def test_poison_and_unknown_events_are_dead_lettered_by_every_group_and_consumers_keep_going(
        platform, infra):
    namespace = platform.namespace
    marker = uuid.uuid4().hex
    producer = make_producer(infra.kafka_bootstrap, "poisoner")
    for topic in READERS:
        for message in poison(marker, "/tests/faults"):
            # one key per topic: one partition, so the records after the poison are read after it
            producer.send(qualified(topic, namespace), key=marker.encode(), value=message).get(timeout=30)
    producer.close()

    expected = {group: 3 * sum(group in readers for readers in READERS.values())
                for group in ("accounts", "verification", "credits")}

    def dead_lettered() -> dict[str, int]:
        return {group: sum(1 for r in read_topic(infra.kafka_bootstrap, qualified(dlq_topic(group), namespace))
                           if r.key == marker.encode()) for group in expected}

    counts = eventually(dead_lettered, lambda c: c == expected, timeout_s=60, what="every poison dead-lettered")
    report("poison", **{f"dlq_{group}": n for group, n in counts.items()})

    # every consumer process is alive, and the platform still applies new events
    assert all(p.popen.poll() is None for p in platform.processes.values())
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        _, auth = register_and_login(gw, "citizen")
        eventually(lambda: gw.get("/api/v1/holdings", headers=auth),
                   lambda r: r.status_code == 200, what="a holding account after the poison")
    sample = [r for r in read_topic(infra.kafka_bootstrap, qualified(dlq_topic("credits"), namespace))
              if r.key == marker.encode()]
    headers = dict(sample[0].headers)
    assert {"dlq-error", "dlq-group", "dlq-original-topic", "dlq-original-offset"} <= headers.keys()
