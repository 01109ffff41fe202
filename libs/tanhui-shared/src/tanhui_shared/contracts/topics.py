"""Kafka topics: one per publishing service, one dead-letter topic per consumer group."""

ACCOUNTS_TOPIC = "tanhui.accounts.v1"
VERIFICATION_TOPIC = "tanhui.verification.v1"
CREDITS_TOPIC = "tanhui.credits.v1"

CONSUMER_GROUPS = ("accounts", "verification", "credits")
PARTITIONS = 6


def dlq_topic(group: str) -> str:
    return f"tanhui.{group}.dlq"


ALL_TOPICS = (ACCOUNTS_TOPIC, VERIFICATION_TOPIC, CREDITS_TOPIC) + tuple(
    dlq_topic(g) for g in CONSUMER_GROUPS
)


def qualified(topic: str, namespace: str = "") -> str:
    """Topics under a namespace (`<ns>.tanhui.credits.v1`) isolate one environment or test run
    on a shared cluster; the empty namespace is the platform's own."""
    return f"{namespace}.{topic}" if namespace else topic
