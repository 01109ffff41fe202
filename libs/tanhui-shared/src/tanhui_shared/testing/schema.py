"""The check that a freshly migrated database is exactly what the table models say."""
from __future__ import annotations

from collections.abc import Sequence

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from ..db import make_engine


def schema_differences(url: str, metadata: MetaData | Sequence[MetaData]) -> list:
    """Alembic's autogenerate diff between the database at `url` and `metadata`: [] when equal."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "target_metadata": metadata})
            return [d for d in compare_metadata(context, metadata)
                    if not (isinstance(d, tuple) and d[0] == "remove_table"
                            and d[1].name == "alembic_version")]
    finally:
        engine.dispose()
