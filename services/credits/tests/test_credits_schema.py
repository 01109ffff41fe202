"""One schema source: a freshly migrated database is exactly what the table models declare."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tanhui_credits.store.schema import METADATA
from tanhui_shared.db import make_engine
from tanhui_shared.testing.schema import schema_differences

# Every constraint and index as PostgreSQL itself prints it: Alembic's comparison does not look
# at check and exclusion constraints, so they are compared here, definition and all.
_CATALOGUE = sa.text("""
SELECT c.conrelid::regclass::text AS relation, c.conname AS name, c.contype AS kind,
       pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> 'alembic_version'
UNION ALL
SELECT tablename, indexname, 'index', indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
""")


def _catalogue(url: str) -> set[tuple[str, str, str, str]]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return {tuple(row) for row in conn.execute(_CATALOGUE)}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def migrated(migrated_database) -> str:
    return migrated_database("credits")


def test_migrated_database_matches_the_models(migrated):
    assert schema_differences(migrated, METADATA) == []


def test_constraints_and_indexes_are_the_ones_the_models_declare(migrated, new_database):
    declared = new_database("credits_models")
    engine = make_engine(declared, pool_size=1)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
        for metadata in METADATA:
            metadata.create_all(conn)
    engine.dispose()
    in_migrations, in_models = _catalogue(migrated), _catalogue(declared)
    assert in_migrations - in_models == set() and in_models - in_migrations == set()
    names = {name for _, name, _, _ in in_migrations}
    assert {"ex_block_live_serials", "ck_listing_remaining", "ck_listing_open",
            "uq_issuance_monitoring_report", "ck_retirement_quantity"} <= names
