"""Shared by the relay's and the consumer's metrics: which dependency an error is about."""
from __future__ import annotations

from kafka.errors import KafkaError
from psycopg import Error as PsycopgError
from sqlalchemy.exc import SQLAlchemyError


def failure_kind(error: BaseException) -> str:
    """database, kafka or other: the `kind` label of the failure counters."""
    if isinstance(error, SQLAlchemyError | PsycopgError):  # the relay's claims use psycopg's own
        return "database"
    if isinstance(error, KafkaError):
        return "kafka"
    return "other"
