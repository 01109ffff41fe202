"""The check that a freshly migrated database is exactly what the table models say."""
from __future__ import annotations

from collections.abc import Sequence

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
import sqlalchemy as sa
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


# Every constraint and index as PostgreSQL itself prints it. Alembic's comparison skips check and
# exclusion constraints, so these are compared here, definitions and all.
_CATALOGUE = sa.text("""
SELECT c.conrelid::regclass::text, c.conname, c.contype::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> 'alembic_version'
UNION ALL
SELECT tablename, indexname, 'index', indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
""")


def catalogue(url: str) -> set[tuple[str, str, str, str]]:
    """(table, name, kind, definition) of every constraint ('c', 'u', 'x', 'f', 'p') and index."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return {tuple(row) for row in conn.execute(_CATALOGUE)}
    finally:
        engine.dispose()


def catalogue_differences(migrated_url: str, empty_url: str,
                          metadata: MetaData | Sequence[MetaData]) -> tuple[set, set]:
    """Create the models' tables in the empty database at `empty_url` and compare both catalogues:
    (only in the migrated database, only in the models); both empty when they agree."""
    engine = make_engine(empty_url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            for each in [metadata] if isinstance(metadata, MetaData) else metadata:
                each.create_all(conn)
    finally:
        engine.dispose()
    migrated, declared = catalogue(migrated_url), catalogue(empty_url)
    return migrated - declared, declared - migrated
