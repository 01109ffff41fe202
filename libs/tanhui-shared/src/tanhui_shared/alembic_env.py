"""The body of every service's `migrations/env.py` (online mode only: we always have a URL).

`target_metadata` is the service's table models (plus the shared outbox, inbox, idempotency and
trusted-key tables it uses): the one schema source. `alembic revision --autogenerate` drafts a
migration from them, and each service's schema test checks that a migrated database matches them.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import context
from sqlalchemy import MetaData

from .db import make_engine


def run_migrations(target_metadata: MetaData | Sequence[MetaData]) -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          compare_type=True, compare_server_default=False)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
