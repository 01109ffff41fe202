"""One schema source: a freshly migrated database is exactly what the table models declare."""
from __future__ import annotations

import pytest

from tanhui_credits.store.schema import METADATA
from tanhui_shared.testing.schema import catalogue, catalogue_differences, schema_differences

@pytest.fixture(scope="module")
def migrated(migrated_database) -> str:
    return migrated_database("credits")


def test_migrated_database_matches_the_models(migrated):
    assert schema_differences(migrated, METADATA) == []


def test_constraints_and_indexes_are_the_ones_the_models_declare(migrated, new_database):
    assert catalogue_differences(migrated, new_database("credits_models"), METADATA) == (set(), set())
    names = {name for _, name, _, _ in catalogue(migrated)}
    assert {"ex_block_live_serials", "ck_listing_remaining", "ck_listing_open",
            "uq_issuance_monitoring_report", "ck_retirement_quantity"} <= names
