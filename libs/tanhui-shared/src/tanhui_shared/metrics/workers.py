"""Shared by the relay's and the consumer's metrics: which dependency an error is about."""
from __future__ import annotations

from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError


def failure_kind(error: BaseException) -> str:
    """database, kafka or other: the `kind` label of the failure counters."""
    if isinstance(error, SQLAlchemyError):
        return "database"
    if isinstance(error, KafkaError):
        return "kafka"
    return "other"
