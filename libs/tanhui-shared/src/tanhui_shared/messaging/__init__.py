"""The event backbone: transactional outbox, relay to Kafka, and an inbox-deduplicating consumer."""
from .outbox import InboxEntry, OutboxMessage, record_event

__all__ = ["InboxEntry", "OutboxMessage", "record_event"]
