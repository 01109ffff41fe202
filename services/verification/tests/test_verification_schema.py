"""One schema source: a freshly migrated database is exactly what the table models declare.

Alembic's comparison covers columns, types, indexes, unique constraints and foreign keys, but not
check or exclusion constraints; so the second test lets PostgreSQL itself render every
constraint and index, once as migrated and once as created from the models, and compares.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tanhui_shared.db import make_engine
from tanhui_shared.testing.schema import schema_differences
from tanhui_verification.store.constraints import CONSTRAINTS
from tanhui_verification.store.schema import METADATA
from tanhui_verification.store.tables import VerificationTable

TABLES = sorted(VerificationTable.metadata.tables)

CONSTRAINT_DEFINITIONS = sa.text("""
    SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
    FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
    WHERE rel.relname = ANY(:tables) AND rel.relnamespace = 'public'::regnamespace""")
INDEX_DEFINITIONS = sa.text("""
    SELECT tablename, indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'public' AND tablename = ANY(:tables)""")


def _definitions(url: str) -> tuple[set[tuple], set[tuple]]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            constraints = {tuple(row) for row in conn.execute(CONSTRAINT_DEFINITIONS,
                                                              {"tables": TABLES})}
            indexes = {tuple(row) for row in conn.execute(INDEX_DEFINITIONS, {"tables": TABLES})}
    finally:
        engine.dispose()
    return constraints, indexes


def _created_from_the_models(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            VerificationTable.metadata.create_all(conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def migrated(migrated_database) -> str:
    return migrated_database("verification")


def test_a_migrated_database_matches_the_models(migrated):
    assert schema_differences(migrated, METADATA) == []


def test_every_constraint_and_index_is_defined_alike_in_models_and_migrations(
        migrated, new_database):
    from_models = new_database("verification_models")
    _created_from_the_models(from_models)
    constraints, indexes = _definitions(migrated)
    created_constraints, created_indexes = _definitions(from_models)
    assert constraints == created_constraints  # checks, exclusions, uniques, foreign keys, keys
    assert indexes == created_indexes  # indexes, partial ones with their conditions


def test_every_named_constraint_says_what_it_means(migrated):
    constraints, indexes = _definitions(migrated)
    named = {name for _, name, kind, _ in constraints if kind != "p"}
    named |= {name for _, name, definition in indexes if definition.startswith("CREATE UNIQUE")
              and not name.endswith("_pkey")}
    assert named == set(CONSTRAINTS)
