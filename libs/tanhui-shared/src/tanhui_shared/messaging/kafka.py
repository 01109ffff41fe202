"""Kafka clients configured the one way the platform uses them: every producer, consumer and
admin client is made here, from one `KafkaAccess` (where the brokers are, and who we are to them).

`python -m tanhui_shared.messaging.kafka` is the platform's Kafka bootstrap: it creates the
topics and, given the services' passwords, their SCRAM principals and ACLs (kafka_security.py).
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ..contracts.topics import TopicSpec, qualified, topic_plan
from ..settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaAccess:
    """PLAINTEXT (the local broker of deploy/, on 127.0.0.1) or SASL with a SCRAM principal (in
    production, one per service; its ACLs decide what it may read and write)."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ssl_cafile: str = ""

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> KafkaAccess:
        return cls(bootstrap=settings.kafka_bootstrap,
                   security_protocol=settings.kafka_security_protocol,
                   sasl_mechanism=settings.kafka_sasl_mechanism,
                   username=settings.kafka_sasl_username,
                   password=settings.kafka_sasl_password.get_secret_value(),
                   ssl_cafile=settings.kafka_ssl_cafile)

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap,
                                   "security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL_"):
            # kafka-python takes SCRAM's username and password under the sasl_plain_* names
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        if self.security_protocol.endswith("SSL") and self.ssl_cafile:
            options["ssl_cafile"] = self.ssl_cafile
        return options


# A bare "host:port" is the local PLAINTEXT broker (tests, benchmarks, `make up`).
Kafka = KafkaAccess | str


def kafka_access(kafka: Kafka) -> KafkaAccess:
    return kafka if isinstance(kafka, KafkaAccess) else KafkaAccess(bootstrap=kafka)


def make_producer(kafka: Kafka, client_id: str, linger_ms: int = 5) -> KafkaProducer:
    # acks=all + idempotence: a retried send never duplicates or reorders within a partition
    # (kafka-python then keeps one batch in flight per partition).
    # zstd (the zstandard package): JSON envelopes shrink several times on the wire and on the
    # brokers' disks, and the batch's CRC-32C (C, from the crc32c package) runs over fewer bytes.
    # Not gzip: kafka-python compresses it at level 9 (no setting), measured ~13 MB/s of
    # envelopes against zstd's ~250 MB/s at a slightly better ratio; the relay waits for every
    # batch's compression after its flush. Consumers decompress with the same package.
    # Larger batches than the 16 KiB default: fewer requests.
    return KafkaProducer(
        **kafka_access(kafka).client_options(),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        compression_type="zstd",
        batch_size=256 * 1024,
        request_timeout_ms=15_000,
        max_block_ms=15_000,
    )


def make_consumer(kafka: Kafka, *topics: str, **options: Any) -> KafkaConsumer:
    return KafkaConsumer(*topics, **kafka_access(kafka).client_options(), **options)


def make_admin(kafka: Kafka, client_id: str) -> KafkaAdminClient:
    return KafkaAdminClient(**kafka_access(kafka).client_options(), client_id=client_id)


def connect_admin(kafka: Kafka, client_id: str, timeout_s: float = 60) -> KafkaAdminClient:
    """An admin client, waiting up to `timeout_s` for the broker to answer."""
    access = kafka_access(kafka)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return make_admin(access, client_id)
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka at {access.bootstrap} did not answer in {timeout_s:.0f}s: start it with "
                    "`deploy/kafka/kafka.sh start` (or set TANHUI_KAFKA_BOOTSTRAP)"
                ) from exc
            time.sleep(1)


def ensure_topics(kafka: Kafka, namespace: str = "", profile: str | None = None,
                  timeout_s: float = 60) -> list[str]:
    """Create the platform's topics if missing (the broker never auto-creates), as topics.toml's
    `profile` (default: TANHUI_KAFKA_TOPIC_PROFILE, else "local") says. Returns those made.

    A topic that exists with fewer partitions than the plan is reported, not changed: adding
    partitions moves keys between them, which reorders an aggregate's events (an operator's
    decision, with `kafka-topics.sh --alter`)."""
    profile = profile or os.environ.get("TANHUI_KAFKA_TOPIC_PROFILE", "local")
    plan = topic_plan(profile)
    admin = connect_admin(kafka, "tanhui-bootstrap", timeout_s)
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        needed = max(spec.replication_factor for spec in plan)
        if needed > brokers:
            raise RuntimeError(
                f"topic profile {profile!r} keeps {needed} copies of every partition but the "
                f"cluster has {brokers} broker(s): start more brokers, or set "
                "TANHUI_KAFKA_TOPIC_PROFILE=local for a single-broker deployment")
        existing = set(admin.list_topics())
        created = []
        for spec in plan:
            topic = qualified(spec.name, namespace)
            if topic in existing:
                continue
            try:
                admin.create_topics(
                    {topic: {"num_partitions": spec.partitions,
                             "replication_factor": spec.replication_factor,
                             "configs": spec.configs()}},
                    wait_for_metadata=True,
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another bootstrap won the race
        _report_short_topics(admin, plan, namespace)
        return created
    finally:
        admin.close()


def delete_namespace_topics(kafka: Kafka, namespace: str, timeout_s: float = 60) -> list[str]:
    """Delete every topic under `namespace` (a test's or benchmark's, never the platform's own:
    the empty namespace is refused). Returns those deleted.

    Each namespace holds a dozen topics of several partitions; a test run makes hundreds, and a
    broker that keeps them all runs out of heap (seen: 15,000 partitions on a 512 MiB heap)."""
    if not namespace:
        raise ValueError("refusing to delete the platform's own topics (empty namespace)")
    admin = connect_admin(kafka, "tanhui-cleanup", timeout_s)
    try:
        doomed = sorted(t for t in admin.list_topics() if t.startswith(f"{namespace}."))
        if doomed:
            admin.delete_topics(doomed, timeout_ms=int(timeout_s * 1000))
        return doomed
    finally:
        admin.close()


@contextmanager
def namespace_topics(kafka: Kafka, namespace: str) -> Iterator[str]:
    """The platform's topics under `namespace` for the duration of the block, deleted after."""
    ensure_topics(kafka, namespace)
    try:
        yield namespace
    finally:
        try:
            delete_namespace_topics(kafka, namespace)
        except Exception:  # noqa: BLE001 - cleanup only: a broker gone at teardown keeps them
            log.warning("could not delete the topics of namespace %s", namespace, exc_info=True)


def _report_short_topics(admin: KafkaAdminClient, plan: tuple[TopicSpec, ...], namespace: str) -> None:
    described = admin.describe_topics([qualified(s.name, namespace) for s in plan])
    have = {t["name"]: len(t.get("partitions") or []) for t in described}
    for spec in plan:
        topic = qualified(spec.name, namespace)
        if have.get(topic, spec.partitions) < spec.partitions:
            log.warning("topic %s has %d partitions, the plan %d: at most %d consumers of a group "
                        "share it", topic, have[topic], spec.partitions, have[topic])


def main() -> None:
    from .kafka_security import bootstrap_principals, service_passwords

    access = KafkaAccess.from_settings(KafkaSettings())
    namespace = os.environ.get("TANHUI_TOPIC_NAMESPACE", "")
    created = ensure_topics(access, namespace)
    print(f"topics ready on {access.bootstrap} ({len(created)} created: {', '.join(created) or 'none'})")
    passwords = service_passwords(os.environ)
    if passwords:  # the production bootstrap, as the super user: principals and their ACLs
        granted = bootstrap_principals(access, passwords, namespace)
        print(f"SCRAM principals and ACLs ready: {', '.join(f'{p} ({n} ACLs)' for p, n in granted.items())}")


if __name__ == "__main__":
    # Run as a script this file is `__main__`, a copy of the module: call the package's own, so
    # kafka_security.py and this main share one KafkaAccess class.
    from tanhui_shared.messaging.kafka import main as package_main

    package_main()
