"""Kafka topics: one per publishing service, one dead-letter topic per consumer group.

Their partitions, replication and retention per profile come from one declarative list,
topics.toml beside this file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ACCOUNTS_TOPIC = "tanhui.accounts.v1"
VERIFICATION_TOPIC = "tanhui.verification.v1"
CREDITS_TOPIC = "tanhui.credits.v1"

CONSUMER_GROUPS = ("accounts", "verification", "credits")
PLAN_FILE = Path(__file__).with_name("topics.toml")


def dlq_topic(group: str) -> str:
    return f"tanhui.{group}.dlq"


ALL_TOPICS = (ACCOUNTS_TOPIC, VERIFICATION_TOPIC, CREDITS_TOPIC) + tuple(
    dlq_topic(g) for g in CONSUMER_GROUPS
)


def qualified(topic: str, namespace: str = "") -> str:
    """Topics under a namespace (`<ns>.tanhui.credits.v1`) isolate one environment or test run
    on a shared cluster; the empty namespace is the platform's own."""
    return f"{namespace}.{topic}" if namespace else topic


@dataclass(frozen=True)
class TopicSpec:
    """One topic as a profile creates it."""

    name: str
    role: str  # events | dead-letter
    partitions: int
    replication_factor: int
    min_insync_replicas: int
    retention_hours: int

    def configs(self) -> dict[str, str]:
        """The topic-level Kafka configs it is created with."""
        return {"min.insync.replicas": str(self.min_insync_replicas),
                "retention.ms": str(self.retention_hours * 3_600_000)}


@cache
def topic_plan(profile: str = "local") -> tuple[TopicSpec, ...]:
    """Every topic of the platform under `profile` (topics.toml's [profiles.<name>])."""
    plan = tomllib.loads(PLAN_FILE.read_text(encoding="utf-8"))
    if profile not in plan["profiles"]:
        raise ValueError(f"no Kafka topic profile {profile!r} in {PLAN_FILE.name}: "
                         f"choose one of {', '.join(sorted(plan['profiles']))}")
    durability = plan["profiles"][profile]
    if durability["min_insync_replicas"] > durability["replication_factor"]:
        raise ValueError(f"profile {profile!r}: min_insync_replicas exceeds replication_factor")
    specs = tuple(TopicSpec(name=t["name"], role=t["role"], retention_hours=t["retention_hours"],
                            partitions=t.get("partitions", durability["partitions"]),
                            replication_factor=durability["replication_factor"],
                            min_insync_replicas=durability["min_insync_replicas"])
                  for t in plan["topics"])
    if tuple(s.name for s in specs) != ALL_TOPICS:
        raise ValueError(f"{PLAN_FILE.name} lists {[s.name for s in specs]}, the code {list(ALL_TOPICS)}")
    return specs


# The local profile's partition count: the most consumers of one group that share a topic here.
PARTITIONS = topic_plan("local")[0].partitions
