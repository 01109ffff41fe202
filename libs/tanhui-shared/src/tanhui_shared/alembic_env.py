"""The body of every service's `migrations/env.py` (online mode only: we always have a URL)."""
from __future__ import annotations

from alembic import context

from .db import make_engine


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(connection=connection, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
