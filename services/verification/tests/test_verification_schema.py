"""One schema source: a freshly migrated database is exactly what the table models declare.

Alembic's comparison covers columns, types, indexes, unique constraints and foreign keys, but not
check or exclusion constraints; so the second test lets PostgreSQL itself render every
constraint and index, once as migrated and once as created from the models, and compares.
"""
from __future__ import annotations

import pytest

from tanhui_shared.testing.schema import catalogue, catalogue_differences, schema_differences
from tanhui_verification.store.constraints import CONSTRAINTS
from tanhui_verification.store.schema import METADATA
from tanhui_verification.store.tables import VerificationTable

TABLES = sorted(VerificationTable.metadata.tables)


@pytest.fixture(scope="module")
def migrated(migrated_database) -> str:
    return migrated_database("verification")


def test_a_migrated_database_matches_the_models(migrated):
    assert schema_differences(migrated, METADATA) == []


def test_every_constraint_and_index_is_defined_alike_in_models_and_migrations(
        migrated, new_database):
    # checks, exclusions, uniques, foreign keys, keys; indexes, partial ones with their conditions
    assert catalogue_differences(migrated, new_database("verification_models"), METADATA) == (
        set(), set())


def test_every_named_constraint_says_what_it_means(migrated):
    ours = [row for row in catalogue(migrated) if row[0] in TABLES]
    named = {name for _, name, kind, _ in ours if kind not in ("p", "index")}
    named |= {name for _, name, kind, definition in ours if kind == "index"
              and definition.startswith("CREATE UNIQUE") and not name.endswith("_pkey")}
    assert named == set(CONSTRAINTS)
