"""Kafka clients configured the one way the platform uses them."""
from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ..contracts.topics import ALL_TOPICS, PARTITIONS, qualified

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, client_id: str) -> KafkaProducer:
    # acks=all + idempotence: a retried send never duplicates or reorders within a partition.
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15_000,
        max_block_ms=15_000,
    )


def ensure_topics(bootstrap: str, namespace: str = "", replication_factor: int = 1,
                  timeout_s: float = 60) -> list[str]:
    """Create the platform's topics if missing (the broker never auto-creates). Returns those made."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tanhui-bootstrap")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka at {bootstrap} did not answer in {timeout_s:.0f}s: start it with "
                    "`deploy/kafka/kafka.sh start` (or set TANHUI_KAFKA_BOOTSTRAP)"
                ) from exc
            time.sleep(1)
    try:
        existing = set(admin.list_topics())
        missing = [qualified(t, namespace) for t in ALL_TOPICS if qualified(t, namespace) not in existing]
        created = []
        for topic in missing:
            try:
                admin.create_topics(
                    {topic: {"num_partitions": PARTITIONS, "replication_factor": replication_factor}},
                    wait_for_metadata=True,
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another bootstrap won the race
        return created
    finally:
        admin.close()


def main() -> None:
    import os

    bootstrap = os.environ.get("TANHUI_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    created = ensure_topics(bootstrap, os.environ.get("TANHUI_TOPIC_NAMESPACE", ""))
    print(f"topics ready on {bootstrap} ({len(created)} created: {', '.join(created) or 'none'})")


if __name__ == "__main__":
    main()
