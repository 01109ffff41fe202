"""Engines, sessions and Alembic migrations, the same way in every service."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """A PostgreSQL engine (the platform's only database)."""
    if not url.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {url.split(':')[0]}:... "
                         "(the platform runs on PostgreSQL only: postgresql+psycopg://...)")
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a restarted PostgreSQL must not leave dead connections in the pool
        pool_timeout=5,
    )


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def migrate(database_url: str, migrations_dir: Path) -> None:
    """Upgrade the database to the newest revision (run before the service starts)."""
    # imported here: a process that never migrates need not load Alembic (about a second of CPU)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(cfg, "head")
