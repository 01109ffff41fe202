"""What the relay's and the consumer's loops tell whoever watches them (metrics/relay.py,
metrics/consumer.py). These do nothing: the loops run unobserved in tests and tools."""
from __future__ import annotations


class RelayObserver:
    def batch_done(self, locked: int, published: int, seconds: float) -> None:
        """A pass ended: `locked` rows claimed (0: the outbox was empty), `published` sent."""

    def batch_failed(self, error: Exception) -> None:
        """A pass failed; the loop backs off and retries."""


class ConsumerObserver:
    def polled(self, consumer) -> None:
        """A poll returned (`consumer`: the KafkaConsumer, for use on the loop's thread only)."""

    def poll_failed(self, error: Exception) -> None:
        """A poll raised; the loop polls again."""

    def counted(self, outcome: str, n: int = 1) -> None:
        """`n` records ended as `outcome`: applied, duplicate or ignored."""

    def dead_lettered(self, error: Exception) -> None:
        """A record went to the DLQ; `error` is the DeadLetter, its cause the reason."""

    def database_failed(self, error: Exception) -> None:
        """Applying waits for the database; the loop retries."""
