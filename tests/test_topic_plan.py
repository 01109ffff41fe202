"""The topics come from one declarative list (contracts/topics.toml): the bootstrap creates them
on the real broker exactly as the plan says, per profile."""
from __future__ import annotations

import uuid

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from tanhui_shared.contracts.topics import ALL_TOPICS, topic_plan
from tanhui_shared.messaging.kafka import (connect_admin, delete_namespace_topics, ensure_topics,
                                           namespace_topics)

pytestmark = pytest.mark.infra


@pytest.fixture
def namespace(infra):
    name = f"plan{uuid.uuid4().hex[:8]}"
    yield name
    delete_namespace_topics(infra.kafka_bootstrap, name)


def test_the_bootstrap_creates_every_topic_as_the_local_plan_says(infra, namespace):
    created = ensure_topics(infra.kafka_bootstrap, namespace, profile="local")
    assert created == [f"{namespace}.{topic}" for topic in ALL_TOPICS]
    assert ensure_topics(infra.kafka_bootstrap, namespace, profile="local") == []  # idempotent
    admin = connect_admin(infra.kafka_bootstrap, "plan-test")
    try:
        names = [f"{namespace}.{spec.name}" for spec in topic_plan("local")]
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])["topic"]
    finally:
        admin.close()
    for spec in topic_plan("local"):
        name = f"{namespace}.{spec.name}"
        assert partitions[name] == spec.partitions
        for key, value in spec.configs().items():
            assert configs[name][key]["value"] == value, (name, key)
    dlq = next(s for s in topic_plan("local") if s.role == "dead-letter")
    assert configs[f"{namespace}.{dlq.name}"]["retention.ms"]["value"] == str(30 * 24 * 3_600_000)


def test_production_keeps_three_copies_and_acknowledges_on_two():
    for spec in topic_plan("production"):
        assert (spec.replication_factor, spec.min_insync_replicas) == (3, 2)
        assert spec.partitions >= topic_plan("local")[0].partitions
    assert [s.name for s in topic_plan("production")] == list(ALL_TOPICS)


def test_a_profile_the_cluster_cannot_hold_is_refused_with_what_to_do(infra, namespace):
    with pytest.raises(RuntimeError, match="TANHUI_KAFKA_TOPIC_PROFILE=local"):
        ensure_topics(infra.kafka_bootstrap, namespace, profile="production")
    admin = connect_admin(infra.kafka_bootstrap, "plan-test")
    try:
        assert not [t for t in admin.list_topics() if t.startswith(namespace)], "nothing half-made"
    finally:
        admin.close()


def test_an_unknown_profile_names_the_ones_there_are():
    with pytest.raises(ValueError, match="local, production"):
        topic_plan("staging")


def test_a_test_namespace_is_deleted_whole_and_the_platform_topics_never(infra):
    """Tests and benchmarks delete their namespaces' topics: a broker keeping hundreds of them
    ran out of heap. Deleting must take exactly one namespace, never the platform's own."""
    with namespace_topics(infra.kafka_bootstrap, f"gone{uuid.uuid4().hex[:8]}") as gone, \
            namespace_topics(infra.kafka_bootstrap, f"kept{uuid.uuid4().hex[:8]}") as kept:
        admin = connect_admin(infra.kafka_bootstrap, "plan-test")
        try:
            assert len([t for t in admin.list_topics() if t.startswith(f"{gone}.")]) == len(ALL_TOPICS)
            deleted = delete_namespace_topics(infra.kafka_bootstrap, gone)
            assert deleted == sorted(f"{gone}.{topic}" for topic in ALL_TOPICS)
            left = admin.list_topics()
            assert not [t for t in left if t.startswith(f"{gone}.")]
            assert len([t for t in left if t.startswith(f"{kept}.")]) == len(ALL_TOPICS)
        finally:
            admin.close()
    with pytest.raises(ValueError, match="platform's own"):
        delete_namespace_topics(infra.kafka_bootstrap, "")
