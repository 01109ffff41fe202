"""Read a whole topic, start to current end, without joining a consumer group."""
from __future__ import annotations

import time

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ..messaging.kafka import Kafka, make_consumer


def read_topic(kafka: Kafka, topic: str, timeout_s: float = 30) -> list[ConsumerRecord]:
    consumer = make_consumer(kafka, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s}s")
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
