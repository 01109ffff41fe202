"""Which shared tables (outbox, inbox, idempotency records, trusted keys) a service's schema has.

Each service's schema source is its own table models plus copies of these, in one MetaData of
its own (the shared models live in SQLModel's global registry, beside tables of other uses).
"""
from __future__ import annotations

from sqlalchemy import MetaData


def with_shared_tables(service: MetaData, *shared_models: type) -> list[MetaData]:
    shared = MetaData()
    for model in shared_models:
        model.__table__.to_metadata(shared)
    return [service, shared]
